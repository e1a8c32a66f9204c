"""The catalogue: both languages complete, every key a template asks for present."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from alerts.families import Family
from alerts.tickets import AUTHOR_KINDS, SUBTYPES, TIERS, Section, Status
from core.vocabulary.outcomes import Outcome
from intmon.web.board import STATES, UPTIME_WINDOWS
from intmon.web.i18n import CATALOGUE, LANGUAGES, Translator, from_accept_language
from intmon.web.models import WEB_ROLES

TEMPLATES = Path(__file__).parents[2] / "intmon" / "web" / "templates"
PYTHON = Path(__file__).parents[2] / "intmon" / "web"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    english, russian = CATALOGUE["en"], CATALOGUE["ru"]
    assert set(LANGUAGES) == set(CATALOGUE)
    assert sorted(set(english) - set(russian)) == []
    assert sorted(set(russian) - set(english)) == []
    for key, text in english.items():
        assert text.strip() and russian[key].strip(), key
        assert placeholders(text) == placeholders(russian[key]), key


def used_keys() -> set[str]:
    """Keys written out in the templates and the web modules; keys built from a
    domain value (`t.word("status", ...)`) are checked by the next test."""
    sources = [p.read_text() for p in TEMPLATES.glob("*.html")]
    sources += [p.read_text() for p in PYTHON.glob("*.py")]
    literal = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
    keys = {key for source in sources for key in literal.findall(source)}
    # Message keys handed to pages and errors ("error.csrf", "login.failed").
    handed = re.compile(r"""["']((?:error|login)\.[a-z_]+)["']""")
    handed_keys = {key for source in sources for key in handed.findall(source)}
    return keys | {key for key in handed_keys if not key.endswith(".html")}


def test_a_key_given_by_two_parts_of_the_catalogue_is_refused() -> None:
    """The catalogue is merged from i18n.py's own words and its parts by `merged`,
    which refuses a key given twice (with `update` the later silently won)."""
    from intmon.web.i18n import merged

    assert merged("en", {"a": {"x": "1"}, "b": {"y": "2"}}) == {"x": "1", "y": "2"}
    with pytest.raises(ValueError, match="'x' is in a and b"):
        merged("en", {"a": {"x": "1"}, "b": {"y": "2", "x": "3"}})


def test_every_key_the_pages_use_is_in_the_catalogue() -> None:
    keys = used_keys()
    assert len(keys) > 100
    for language in LANGUAGES:
        assert sorted(keys - set(CATALOGUE[language])) == [], language


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("status", [s.value for s in Status]),
        ("section", [s.value for s in Section]),
        ("section_hint", [s.value for s in Section]),
        ("subtype", [v for values in SUBTYPES.values() for v in values]),
        ("tier", TIERS),
        ("family", [f.value for f in Family]),
        ("state", STATES),
        ("outcome", [o.value for o in Outcome]),
        ("window", list(UPTIME_WINDOWS)),
        ("incident", ["open", "resolved", "flapping"]),
        ("origin", ["manual", "incident"]),
        ("author", AUTHOR_KINDS),
        ("role", WEB_ROLES),
        ("action", ["created", "status", "section", "comment_public", "comment_internal"]),
    ],
)
def test_every_value_shown_through_a_prefix_has_a_word(prefix: str, values: list[str]) -> None:
    for language in LANGUAGES:
        for value in values:
            assert f"{prefix}.{value}" in CATALOGUE[language], (language, prefix, value)


def test_the_help_page_words_of_seed_004() -> None:
    russian = Translator("ru")
    assert [russian(f"status.{s.value}") for s in Status] == [
        "Открыт",
        "В работе",
        "Ожидает ответа",
        "Закрыт",
        "Отклонен",
    ]
    assert russian("section.documents_finance") == "Документы/Финансы"
    assert russian("subtype.metric_billing") == "Запрос тарификации метрики"
    assert russian("field.description") == "Вопрос" and russian("new.submit") == "Отправить"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9", None),
        ("de, ru;q=0.5, en;q=0.7", "en"),
        ("ru;q=0, en;q=0.1", "en"),
        ("*", None),
        ("", None),
        ("ru;q=abc, en", "en"),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("seconds", "english", "russian"),
    [
        (42, "42 s", "42 с"),
        (5 * 60 + 7, "5 min", "5 мин"),
        (2 * 3600 + 5 * 60, "2 h 05 min", "2 ч 05 мин"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h", "3 д 4 ч"),
        (-10, "0 s", "0 с"),
    ],
)
def test_durations(seconds: float, english: str, russian: str) -> None:
    assert Translator("en").span(seconds) == english
    assert Translator("ru").span(seconds) == russian


@pytest.mark.parametrize(
    ("seconds", "english", "russian"),
    [
        (0.25, "250 ms", "250 мс"),
        (1.5, "1.5 s", "1,5 с"),
        (31.44, "31.4 s", "31,4 с"),
        (30.0, "30 s", "30 с"),
    ],
)
def test_step_durations_use_the_languages_decimal_mark(
    seconds: float, english: str, russian: str
) -> None:
    """A run's step time (`|duration` in templates): 1.5 s, but 1,5 с."""
    from intmon.web.render import environment

    template = environment.from_string("{{ seconds|duration }}")
    for language, expected in (("en", english), ("ru", russian)):
        assert template.render(t=Translator(language), seconds=seconds) == expected
