"""JSON request bodies as the database and the JSON answers can hold them.

Python's `json` reads more than JSON: `NaN`, `Infinity`, numbers that overflow
to infinity (`1e400`), lone surrogates (`"\\ud800"`, which no UTF-8 encoder
takes), NUL characters (PostgreSQL's text refuses them) and integers of any
size. Each of those used to get through validation and fail later, as a 500,
when stored or echoed back. `StrictJsonRoute` (the `route_class` of every API
router) reads bodies with `strict_loads` instead, which refuses them with a 422
that names the field:

    {"field": "body", "in": "body", "message": "NaN is not a JSON number"}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from intmon.api.problems import field_path

INT64 = 2**63
Model = TypeVar("Model", bound=BaseModel)


class InvalidJson(HTTPException):
    """A body that is JSON but cannot be stored; `errors` as in the problem shape."""

    def __init__(self, location: list[str | int], message: str) -> None:
        field = field_path(location) or "body"
        super().__init__(422, f"{field}: {message}")
        self.errors = [{"field": field, "in": "body", "message": message}]


class _Refused:
    """What the parser hooks return for a value to refuse (found by `_check`)."""

    def __init__(self, message: str) -> None:
        self.message = message


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"{text} is out of range")


def _int(text: str) -> int | _Refused:
    # Longer than any 64-bit integer: refused before Python converts it (slow).
    if len(text) > 20:
        return _Refused("integer out of range (64-bit)")
    value = int(text)
    return value if -INT64 <= value < INT64 else _Refused("integer out of range (64-bit)")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _check(value: Any, location: list[str | int]) -> None:
    if isinstance(value, _Refused):
        raise InvalidJson(location, value.message)
    if isinstance(value, str):
        if (problem := _text_problem(value)) is not None:
            raise InvalidJson(location, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            if (problem := _text_problem(key)) is not None:
                raise InvalidJson(location, f"a key {problem}")
            _check(item, [*location, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, [*location, index])


def strict_loads(body: bytes | str) -> Any:
    """`json.loads` that refuses what cannot be stored (InvalidJson naming the field);
    malformed JSON is still `json.JSONDecodeError` (FastAPI's own 422)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidJson([], f"not UTF-8 (byte {error.start})") from None
    value = json.loads(body, parse_constant=_constant, parse_float=_float, parse_int=_int)
    _check(value, [])
    return value


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def not_json(error: json.JSONDecodeError) -> RequestValidationError:
    """The 422 for a body that is not JSON at all, as FastAPI words it."""
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", error.pos),
                "msg": "JSON decode error",
                "ctx": {"error": error.msg},
            }
        ]
    )


def validated(model: type[Model], values: Any) -> Model:
    """`values` as `model`, refused as FastAPI refuses a body (problem+json, 422,
    naming the field) — for the routes that read their body themselves."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**e, "loc": ("body", *e["loc"])}
                for e in error.errors(include_url=False, include_input=False)
            ]
        ) from None
