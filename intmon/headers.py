"""The security headers every page of the console carries, and every error answer
of the API and console too (`intmon.api.problems`, `intmon.api.body_guard`).

Kept free of Jinja2 and the session so the API's error handlers import it cheaply.
"""

from __future__ import annotations

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # A page may hold a ticket's thread: the back button after logout must not show it.
    "Cache-Control": "no-store",
}
