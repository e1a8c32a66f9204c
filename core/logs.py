"""Logging rules that hold in every process.

httpx logs every request, URL included, at INFO. A URL may carry a
credential (`auth: {type: query}`), and dramatiq's worker logs at INFO by
default, so those lines would leak secrets and cost CPU per check.
"""

from __future__ import annotations

import logging

QUIET = ("httpx", "httpcore", "hpack")


def quiet_http_client_logs() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_http_client_logs()
