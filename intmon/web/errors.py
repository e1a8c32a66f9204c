"""Errors of the web console; each becomes a page, never a stack trace.

    WebError
    ├── LoginRequired     no session, or its user was disabled: redirect to /login
    ├── PageError         an HTTP error page (403 CSRF or role, 404, 413, 415) with a
    │                     catalogue key for the message
    └── WebConfigError    the session secret is set wrongly (names the setting)

All are permanent: the same request gets the same answer.
"""

from __future__ import annotations


class WebError(Exception):
    permanent = True


class LoginRequired(WebError):
    pass


class PageError(WebError):
    def __init__(self, status_code: int, message_key: str, **details: str) -> None:
        super().__init__(f"{status_code} {message_key}")
        self.status_code = status_code
        self.message_key = message_key
        self.details = details


class WebConfigError(WebError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
