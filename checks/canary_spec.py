"""How a canary is configured (`self_check.canaries[]`), apart from how it is probed
(checks.canary): validating the file must not import the HTTP clients."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from integrations.strict import SLUG, Strict

DEFAULT_TIMEOUT_S = 5.0


class CanarySpec(Strict):
    """One target the platform itself must reach (`self_check.canaries[]`)."""

    name: str = Field(pattern=SLUG)
    url: str
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parsed = urlsplit(value)
            host = parsed.hostname
        except ValueError as error:  # e.g. an unclosed IPv6 bracket
            raise ValueError(f"{value!r} is not an http(s) URL with a host ({error})") from None
        if parsed.scheme not in ("http", "https") or not host:
            raise ValueError(f"{value!r} is not an http(s) URL with a host")
        return value
