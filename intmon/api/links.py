"""Absolute links for answers: bodies (`url`, `junit_url`), `Location` and `Link`.

A test team's client follows what the API hands it, from wherever it runs, so a
link is absolute. Its base is `INTMON_PUBLIC_URL` when set (the address people and
partners use, through a proxy), else the base URL the request came in on.
"""

from __future__ import annotations

from starlette.requests import Request


def base_url(request: Request) -> str:
    public: str | None = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def absolute(request: Request, path: str) -> str:
    """`path` (with its query, if any) under the API's public base."""
    return base_url(request) + "/" + path.lstrip("/")
