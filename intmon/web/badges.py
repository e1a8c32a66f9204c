"""The secret links of the uptime badges a client puts on its own status page.

`GET /badge/<token>.svg` needs no login, so the token is the only thing that
guards it: `<integration id>.<mac>`, where the mac is an HMAC-SHA256 of the
integration id under the badge key (`INTMON_BADGE_SECRET`, else a key derived
from the session secret), 128 bits of it, base64url. Nobody can make one
without the key; a wrong or unknown token is "not found", and comparing macs
takes the same time whatever they hold. Support and the integration's own
client see the link on the integration page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from core.settings import Settings
from intmon.web.errors import WebConfigError

MIN_SECRET = 32
MAC_BYTES = 16


def badge_key(settings: Settings, session_secret: str) -> bytes:
    """The key that signs badge tokens: the badge secret, else one derived from the
    session secret (under its own label, so neither key reveals the other)."""
    if settings.badge_secret is not None:
        secret = settings.badge_secret.get_secret_value()
        if len(secret) < MIN_SECRET:
            raise WebConfigError("INTMON_BADGE_SECRET", f"must be at least {MIN_SECRET} characters")
        return secret.encode()
    return hmac.new(session_secret.encode(), b"intmon uptime badge key", hashlib.sha256).digest()


def _mac(key: bytes, integration_id: str) -> str:
    digest = hmac.new(key, f"badge:{integration_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).rstrip(b"=").decode()


def badge_token(key: bytes, integration_id: str) -> str:
    return f"{integration_id}.{_mac(key, integration_id)}"


def integration_of(key: bytes, token: str) -> str | None:
    """The integration a token was made for, or None when the token is not genuine."""
    integration_id, dot, mac = token.rpartition(".")
    if not dot or not integration_id:
        return None
    if not hmac.compare_digest(mac.encode(), _mac(key, integration_id).encode()):
        return None
    return integration_id
