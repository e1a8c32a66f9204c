"""The viewer's time zone, and times shown in it.

Stored times are UTC. A page shows them in the viewer's zone: `?tz=Europe/Moscow`
(kept in the session, like `?lang=`), else the `intmon_tz` cookie that
`console.js` writes from the browser's own zone (`Intl.DateTimeFormat`), else
UTC. A name that is not an IANA zone is ignored, never an error: the cookie is
the browser's word, and a wrong one must not break a page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request

ZONE_COOKIE = "intmon_tz"
# IANA names: "UTC", "Europe/Moscow", "America/Argentina/Buenos_Aires", "Etc/GMT+3".
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


@lru_cache(maxsize=256)
def zone_named(name: str) -> tzinfo | None:
    """The zone called `name`, or None when there is no such IANA zone."""
    if len(name) > 64 or not ZONE_NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def viewer_zone(request: Request) -> tzinfo:
    """`?tz=` (kept in the session), else the session's, else the browser's cookie, else UTC."""
    asked = request.query_params.get("tz")
    if asked is not None and zone_named(asked) is not None:
        request.session["tz"] = asked
    for name in (request.session.get("tz"), request.cookies.get(ZONE_COOKIE)):
        if isinstance(name, str) and (zone := zone_named(name)) is not None:
            return zone
    return UTC


def in_zone(moment: datetime, zone: tzinfo, pattern: str) -> str:
    """`moment` as `pattern` in `zone` (`%Z`: the zone's abbreviation, "MSK", "UTC")."""
    return moment.astimezone(zone).strftime(pattern)


def stamp(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """A time to the second, in `zone`: "2026-11-23 15:00:05 MSK"."""
    return in_zone(moment, zone, "%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def minute(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """A time to the minute, in `zone`: "2026-11-23 15:00 MSK"."""
    return in_zone(moment, zone, "%Y-%m-%d %H:%M %Z") if moment else "—"
