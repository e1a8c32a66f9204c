"""The `ticket_forms:` block of the configuration file: seed 001's ticket creation.

A person picks a category, then one of its topics, then fills the topic's form:
the common fields every ticket has (a summary and a description, kept in the
ticket's `topic` and `form.description`) and the topic's own fields (the account
number, a chat or call id, the channel...). Each category files its tickets in
one section of seed 004, and a topic of documents/finance names its subtype, so
the queue, the SLA and the section rules keep working unchanged.

Without a `ticket_forms:` block the built-in forms below apply (seed 001's
examples, in English and Russian). Checking a filled form is a pure function
(`check_values`) that returns every problem at once, each naming its field, so
the API says them in English and the console in its viewer's language.
Kept free of the database: `intmon validate` imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from integrations.strict import Strict, compile_regex

# Field and option names: what the API's `fields: {...}` and the stored values use.
NAME = r"^[a-z][a-z0-9_]{0,39}$"
SECTIONS = ("system_errors", "app_help", "documents_finance")
SUBTYPES = {"documents_finance": ("metric_billing", "other")}  # alerts.tickets.SUBTYPES
VALUE_MAX = 64 * 1024  # a value is never longer than a description (intmon.api.fields)
KINDS = ("png", "jpeg", "gif", "webp", "pdf", "text", "json")  # alerts.attachments
MiB = 1024 * 1024

Name = Annotated[str, Field(pattern=NAME)]


class Label(Strict):
    """A text in both languages of the console."""

    en: str = Field(min_length=1, max_length=200)
    ru: str = Field(min_length=1, max_length=200)

    def said(self, language: str) -> str:
        return self.ru if language == "ru" else self.en


class Option(Strict):
    value: Name
    label: Label


class FormField(Strict):
    """One field of a topic's form."""

    name: Name
    label: Label
    type: Literal["text", "textarea", "number", "select", "email", "phone"] = "text"
    required: bool = False
    hint: Label | None = None
    options: list[Option] = Field(default_factory=list)  # a select's choices
    pattern: str | None = Field(default=None, max_length=500)  # searched, anchor it yourself
    max_length: int = Field(default=200, ge=1, le=VALUE_MAX)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_regex(value)
        return value

    @model_validator(mode="after")
    def _options_fit_type(self) -> FormField:
        if self.type == "select" and not self.options:
            raise ValueError(f"field {self.name}: a select needs options")
        if self.type != "select" and self.options:
            raise ValueError(f"field {self.name}: options are for type select only")
        if self.type == "select" and self.pattern is not None:
            raise ValueError(f"field {self.name}: a select takes no pattern")
        _unique([option.value for option in self.options], f"field {self.name}: option")
        return self


class Topic(Strict):
    id: Name
    label: Label
    subtype: str | None = None  # documents/finance: which question type
    fields: list[FormField] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _unique_fields(self) -> Topic:
        _unique([field.name for field in self.fields], f"topic {self.id}: field")
        return self

    def field(self, name: str) -> FormField | None:
        return next((field for field in self.fields if field.name == name), None)


class Category(Strict):
    id: Name
    label: Label
    section: Literal["system_errors", "app_help", "documents_finance"]
    hint: Label | None = None
    topics: list[Topic] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _topics_fit_section(self) -> Category:
        _unique([topic.id for topic in self.topics], f"category {self.id}: topic")
        allowed = SUBTYPES.get(self.section, ())
        for topic in self.topics:
            if allowed and topic.subtype not in allowed:
                raise ValueError(
                    f"topic {topic.id}: section {self.section} needs a subtype: one of "
                    f"{', '.join(allowed)}"
                )
            if not allowed and topic.subtype is not None:
                raise ValueError(f"topic {topic.id}: section {self.section} has no subtypes")
        return self

    def topic(self, topic_id: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)


class AttachmentLimits(Strict):
    """What a ticket may carry (seed 001 "Вложение"). The whole request is also capped
    by INTMON_API_MAX_BODY_BYTES (16 MiB), whatever these say."""

    max_bytes: int = Field(default=10 * MiB, ge=1, le=256 * MiB)  # each file
    max_per_ticket: int = Field(default=5, ge=0, le=50)
    # By their content, never their name: png, jpeg, gif, webp, pdf, text, json.
    allowed: list[Literal["png", "jpeg", "gif", "webp", "pdf", "text", "json"]] = Field(
        default_factory=lambda: list[Any](KINDS)
    )


@cache
def builtin() -> _Builtin:
    """Seed 001's forms, translated (`alerts.ticket_forms_default`), checked once."""
    from alerts.ticket_forms_default import DEFAULT

    return _Builtin.model_validate(DEFAULT)


class _Builtin(Strict):
    categories: list[Category]


class TicketFormsConfig(Strict):
    """The `ticket_forms:` block: categories → topics → fields, and attachment limits."""

    categories: list[Category] = Field(default_factory=lambda: list(builtin().categories))
    attachments: AttachmentLimits = Field(default_factory=AttachmentLimits)

    @field_validator("categories")
    @classmethod
    def _some_unique(cls, value: list[Category]) -> list[Category]:
        if not value:
            raise ValueError("at least one category is needed to create tickets")
        _unique([category.id for category in value], "category")
        return value

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is listed twice")
        seen.add(name)


def forms_of(document: Any) -> TicketFormsConfig:
    """The applied document (`alerts.documents.TICKET_FORMS`), or the built-in forms."""
    return TicketFormsConfig.model_validate(document or {})


# --- a filled form ---------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """What is wrong with one field: `code` is the rule (the console's key
    `form.<code>`), `values` fill its sentence."""

    field: str
    code: str  # required | unknown | too_long | pattern | number | email | phone | choice
    values: dict[str, Any]

    def english(self) -> str:
        return ENGLISH[self.code].format(**self.values)


ENGLISH = {
    "required": "is required",
    "unknown": "is not a field of this topic",
    "too_long": "must be at most {max} characters",
    "pattern": "does not have the expected format",
    "number": "must be a number",
    "email": "must be an e-mail address",
    "phone": "must be a phone number (digits, spaces, +, -, brackets)",
    "choice": "must be one of {choices}",
    "text": "must be text",
}


def check_values(topic: Topic, given: dict[str, Any]) -> tuple[dict[str, str], list[FieldProblem]]:
    """The values to store (stripped, only the topic's fields, empty ones left out)
    and every problem, in the form's order. Values are text: a number stays as typed."""
    problems: list[FieldProblem] = []
    clean: dict[str, str] = {}
    for name in given:
        if topic.field(name) is None:
            problems.append(FieldProblem(str(name), "unknown", {}))
    for field in topic.fields:
        raw = given.get(field.name)
        if (raw is not None and not isinstance(raw, str | int | float)) or isinstance(raw, bool):
            problems.append(FieldProblem(field.name, "text", {}))
            continue
        value = "" if raw is None else str(raw).strip()
        problem = _check(field, value)
        if problem is not None:
            problems.append(problem)
        elif value:
            clean[field.name] = value
    return clean, problems


def _check(field: FormField, value: str) -> FieldProblem | None:
    def refuse(code: str, **values: Any) -> FieldProblem:
        return FieldProblem(field.name, code, values)

    if not value:
        return refuse("required") if field.required else None
    if len(value) > field.max_length:
        return refuse("too_long", max=field.max_length)
    if "\x00" in value:
        return refuse("text")
    if field.type == "select":
        choices = [option.value for option in field.options]
        return None if value in choices else refuse("choice", choices=", ".join(choices))
    checks = {"number": NUMBER, "email": EMAIL, "phone": PHONE}
    if field.type in checks and not checks[field.type].match(value):
        return refuse(field.type)
    if field.pattern is not None and not re.search(field.pattern, value):
        return refuse("pattern")
    return None
