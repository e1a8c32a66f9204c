"""The body of `POST /api/tickets`: JSON, or a multipart form with the ticket's files.

A test team or a client's integration opens a ticket with its screenshots and
logs in one call:

    curl -H "Authorization: Bearer $TOKEN" \\
         -F topic="The bot stopped answering" -F body="Since 10:00 …" \\
         -F category=system_errors -F topic_id=chats \\
         -F fields.account_number=123456 -F fields.chat_id=c-77 -F fields.channel=telegram \\
         -F files=@shot.png -F files=@bot.log  https://intmon.example/api/tickets

The form's fields are the JSON body's (`NewTicket`), each once; a topic field
`x` of seed 001's form is the part `fields.x`; files come as parts named
`files`. An empty optional field is as if absent (curl and HTML forms send
them). The files are checked by `alerts.attachments` inside the ticket's
transaction, as the console's are: a refused file files no ticket. Refusals are
the API's problem+json, naming the field as the JSON body would (`topic`,
`fields.chat_id`, `attachments`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from alerts.attachments import Upload
from intmon.api.fields import ID_MAX, TEXT_MAX
from intmon.api.strict_json import not_json

FILES = "files"
FORM = "application/x-www-form-urlencoded"  # the same fields, without files
FIELDS_PREFIX = "fields."
MAX_FILES = 20  # parts; the ticket's own limit (ticket_forms.attachments) is checked later
MAX_PARTS = 80
MAX_TEXT_PART = TEXT_MAX * 4  # bytes: a TEXT_MAX-character body in UTF-8
OPTIONAL = ("subtype", "integration", "client", "tier", "category", "topic_id")
SCALARS = ("section", "topic", "body", *OPTIONAL)


def _refused(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body", field), "msg": message}])


async def _multipart(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    try:
        form = await request.form(
            max_files=MAX_FILES, max_fields=MAX_PARTS, max_part_size=MAX_TEXT_PART
        )
    except HTTPException as error:  # malformed, or too many parts: Starlette's 400
        raise HTTPException(400, f"multipart body: {error.detail}") from None
    values: dict[str, Any] = {}
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != FILES:
                    raise _refused(name, f"files are sent as parts named {FILES!r}")
                if value.filename:  # an empty file input of an HTML form
                    uploads.append(Upload(value.filename, await value.read()))
            elif name == FILES:
                raise _refused(FILES, "must be files (parts with a filename)")
            elif name.startswith(FIELDS_PREFIX):
                key = name.removeprefix(FIELDS_PREFIX)
                if not key or len(key) > ID_MAX:
                    raise _refused(name, f"a field name of 1 to {ID_MAX} characters")
                if key in fields:
                    raise _refused(name, "given twice")
                fields[key] = value
            elif name in SCALARS:
                if name in values:
                    raise _refused(name, "given twice")
                if value or name not in OPTIONAL:
                    values[name] = value
            elif name == "fields":
                raise _refused(name, f"send each field as its own part, {FIELDS_PREFIX}<name>")
            else:
                raise _refused(name, "not a field of a ticket")
    finally:
        await form.close()
    if fields:
        values["fields"] = fields
    return values, uploads


async def ticket_values(request: Request) -> tuple[Any, list[Upload]]:
    """The new ticket's values (to validate as a `NewTicket`) and its files, from JSON
    or a form (multipart; urlencoded carries no files, nor does JSON: those attach
    them with `…/attachments` afterwards)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", FORM):
        return await _multipart(request)
    if kind not in ("", "application/json") and not kind.endswith("+json"):
        raise HTTPException(
            415, f"send application/json, multipart/form-data (with files) or {FORM}"
        )
    try:
        return await request.json(), []  # strict: intmon.api.strict_json
    except json.JSONDecodeError as error:
        raise not_json(error) from None


def request_body(new_ticket_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of the creation: the JSON model, or the same fields
    as a multipart form with `fields.<name>` parts and `files`."""
    properties = {
        name: schema for name, schema in new_ticket_schema["properties"].items() if name != "fields"
    }
    form = {
        "type": "object",
        "properties": {
            **properties,
            FILES: {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "description": "png, jpeg, gif, webp, pdf, text, json; within the ticket "
                "forms' attachment limits (count, size). Executables, scripts and "
                "archives are refused.",
            },
        },
        "patternProperties": {
            r"^fields\.": {
                "type": "string",
                "maxLength": TEXT_MAX,
                "description": "A field of the topic's form: `fields.account_number`.",
            }
        },
        "required": new_ticket_schema.get("required", []),
    }
    return {
        "required": True,
        "content": {
            "application/json": {"schema": new_ticket_schema},
            "multipart/form-data": {
                "schema": form,
                "encoding": {FILES: {"contentType": "application/octet-stream"}},
            },
            FORM: {
                "schema": {
                    **form,
                    "properties": {k: v for k, v in form["properties"].items() if k != FILES},
                }
            },
        },
    }
