"""Seed 001's ticket forms: the `ticket_forms:` block is checked with its line and
field path, the built-in forms are valid, and a filled form is checked field by
field (one row per rule)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from alerts import documents
from alerts.ticket_forms import TicketFormsConfig, builtin, check_values, forms_of
from integrations.errors import ConfigError
from intmon.config_file import apply_config, load_config_text
from tests.alerts.helpers import config_text

CATEGORY = """ticket_forms:
  categories:
    - id: errors
      section: system_errors
      label: {en: Errors, ru: Ошибки}
      topics:
"""


def _topic(fields: str, *, subtype: str = "", section: str = "system_errors") -> str:
    head = CATEGORY.replace("system_errors", section)
    return head + (
        "        - id: chats\n"
        "          label: {en: Chats, ru: Чаты}\n"
        + (f"          subtype: {subtype}\n" if subtype else "")
        + "          fields:\n"
        + fields
    )


@pytest.mark.parametrize(
    ("name", "block", "field", "message"),
    [
        (
            "a select without options",
            _topic("            - {name: channel, label: {en: C, ru: К}, type: select}\n"),
            "ticket_forms.categories[0].topics[0].fields[0]",
            "a select needs options",
        ),
        (
            "options on a text field",
            _topic(
                "            - {name: a, label: {en: A, ru: А}, options: "
                "[{value: x, label: {en: X, ru: Х}}]}\n"
            ),
            "ticket_forms.categories[0].topics[0].fields[0]",
            "options are for type select only",
        ),
        (
            "a field name that is no identifier",
            _topic("            - {name: Bad-Name, label: {en: A, ru: А}}\n"),
            "ticket_forms.categories[0].topics[0].fields[0].name",
            "should match pattern",
        ),
        (
            "a pattern that does not compile",
            _topic("            - {name: a, label: {en: A, ru: А}, pattern: '(['}\n"),
            "ticket_forms.categories[0].topics[0].fields[0].pattern",
            "invalid regular expression",
        ),
        (
            "a label without its Russian",
            _topic("            - {name: a, label: {en: A}}\n"),
            "ticket_forms.categories[0].topics[0].fields[0].label.ru",
            "missing",
        ),
        (
            "an unknown type",
            _topic("            - {name: a, label: {en: A, ru: А}, type: colour}\n"),
            "ticket_forms.categories[0].topics[0].fields[0].type",
            "Input should be",
        ),
        (
            "a field twice",
            _topic(
                "            - {name: a, label: {en: A, ru: А}}\n"
                "            - {name: a, label: {en: B, ru: Б}}\n"
            ),
            "ticket_forms.categories[0].topics[0]",
            "field 'a' is listed twice",
        ),
        (
            "documents/finance without a subtype",
            _topic("            - {name: a, label: {en: A, ru: А}}\n", section="documents_finance"),
            "ticket_forms.categories[0]",
            "needs a subtype",
        ),
        (
            "a subtype where the section has none",
            _topic("            - {name: a, label: {en: A, ru: А}}\n", subtype="other"),
            "ticket_forms.categories[0]",
            "has no subtypes",
        ),
        (
            "an unknown key",
            _topic("            - {name: a, label: {en: A, ru: А}, requried: true}\n"),
            "ticket_forms.categories[0].topics[0].fields[0].requried",
            "unknown field",
        ),
        (
            "no categories",
            "ticket_forms:\n  categories: []\n",
            "ticket_forms.categories",
            "at least one category",
        ),
        (
            "a zero size limit",
            "ticket_forms:\n  attachments: {max_bytes: 0}\n",
            "ticket_forms.attachments.max_bytes",
            "greater than or equal to 1",
        ),
        (
            "an attachment kind intmon cannot recognise",
            "ticket_forms:\n  attachments: {allowed: [exe]}\n",
            "ticket_forms.attachments.allowed[0]",
            "Input should be",
        ),
    ],
)
def test_form_config_mistakes_name_the_field(
    name: str, block: str, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(config_text("a") + block)
    problems = caught.value.problems
    assert any(p.field == field and message in p.message and p.line for p in problems), (
        name,
        problems,
    )


def test_the_builtin_forms_are_seed_001s() -> None:
    forms = TicketFormsConfig()
    assert [c.id for c in forms.categories] == ["system_errors", "app_help", "documents_finance"]
    chats = forms.categories[0].topic("chats")
    assert chats is not None
    # Seed 001's example topic: account number, chat id, dialog id, channel.
    assert [f.name for f in chats.fields] == ["account_number", "chat_id", "dialog_id", "channel"]
    assert chats.fields[0].label.ru == "Номер ЛК"
    assert forms.attachments.max_bytes == 10 * 1024 * 1024
    assert forms.attachments.max_per_ticket == 5
    assert builtin().categories == forms.categories


def test_the_block_is_applied_and_read_back(sqlite_engine: Engine) -> None:
    block = _topic("            - {name: ref, label: {en: Ref, ru: Ссылка}, required: true}\n")
    apply_config(sqlite_engine, load_config_text(config_text("a") + block))
    forms = forms_of(documents.load(sqlite_engine, documents.TICKET_FORMS))
    assert [c.id for c in forms.categories] == ["errors"]
    # A file without the block brings back the built-in forms.
    apply_config(sqlite_engine, load_config_text(config_text("a")))
    assert forms_of(documents.load(sqlite_engine, documents.TICKET_FORMS)) == TicketFormsConfig()


CHATS = TicketFormsConfig().categories[0].topics[0]
GOOD: dict[str, Any] = {"account_number": "12345", "chat_id": "c-1", "channel": "telegram"}


@pytest.mark.parametrize(
    ("name", "given", "problems"),
    [
        ("all good", GOOD, []),
        ("a required field missing", {**GOOD, "chat_id": ""}, [("chat_id", "required")]),
        ("spaces only are missing", {**GOOD, "chat_id": "   "}, [("chat_id", "required")]),
        ("a pattern not met", {**GOOD, "account_number": "12a"}, [("account_number", "pattern")]),
        ("too long", {**GOOD, "account_number": "1" * 21}, [("account_number", "too_long")]),
        ("not an option", {**GOOD, "channel": "fax"}, [("channel", "choice")]),
        ("a field the topic lacks", {**GOOD, "call_id": "1"}, [("call_id", "unknown")]),
        ("a list is no text", {**GOOD, "chat_id": ["a"]}, [("chat_id", "text")]),
        ("a boolean is no text", {**GOOD, "chat_id": True}, [("chat_id", "text")]),
        ("NUL", {**GOOD, "dialog_id": "a\x00"}, [("dialog_id", "text")]),
        (
            "every problem at once",
            {"channel": "fax"},
            [("account_number", "required"), ("chat_id", "required"), ("channel", "choice")],
        ),
    ],
)
def test_filled_form_checks(name: str, given: dict[str, Any], problems: list[Any]) -> None:
    clean, found = check_values(CHATS, given)
    assert [(p.field, p.code) for p in found] == problems, name
    if not problems:
        assert clean == GOOD


@pytest.mark.parametrize(
    ("kind", "value", "good"),
    [
        ("number", "42", True),
        ("number", "-4.5", True),
        ("number", "4e5", False),
        ("email", "ann@example.com", True),
        ("email", "ann@", False),
        ("phone", "+7 (495) 123-45-67", True),
        ("phone", "call me", False),
    ],
)
def test_typed_fields(kind: str, value: str, good: bool) -> None:
    topic = CHATS.model_copy(
        update={"fields": [CHATS.fields[0].model_copy(update={"type": kind, "pattern": None})]}
    )
    _, found = check_values(topic, {"account_number": value})
    assert (found == []) is good
    if not good:
        assert found[0].code == kind
        assert found[0].english()


def test_the_readme_example_is_a_valid_ticket_forms_block() -> None:
    from pathlib import Path

    from intmon.config_file import load_config_text

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Ticket forms and attachments", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_config_text("version: 1\n" + block + "integrations: []\n")
    [category] = loaded.ticket_forms.categories
    [topic] = category.topics
    assert [field.name for field in topic.fields] == ["account", "chat_id", "channel"]
    assert loaded.ticket_forms.attachments.max_per_ticket == 3
