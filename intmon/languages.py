"""The languages intmon speaks to people (English and Russian) and how a request's
Accept-Language header picks one.

Kept free of the console so the HTTP API (`GET /api/reports/monthly`) picks a
language by the same rule as the console's pages (`intmon.web.i18n.language_of`).
"""

from __future__ import annotations

LANGUAGES = ("en", "ru")
DEFAULT = "en"


def from_accept_language(header: str) -> str | None:
    """The first of our languages the browser asks for, by its q-values."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        wanted.append((-quality, position, tag.strip().lower().split("-")[0]))
    for negative_quality, _, language in sorted(wanted):
        if negative_quality < 0 and language in LANGUAGES:
            return language
    return None
