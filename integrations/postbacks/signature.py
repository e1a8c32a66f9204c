"""Whether a postback comes from the broker: the shared secret, two ways a broker can send it.

    X-Intmon-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>
    token: <the secret itself>               (for brokers that cannot sign)

The HMAC is preferred: the secret never travels, and the body cannot be changed
on the way. Both comparisons are constant-time (`hmac.compare_digest`), and a
request for an integration that does not exist is compared against a throwaway
key, so the answer's timing does not tell which integrations exist either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

SIGNATURE_HEADER = "x-intmon-signature"
TOKEN_HEADER = "token"
SCHEME = "sha256="
# Compared against when there is no secret to compare with (see the docstring).
_THROWAWAY = secrets.token_bytes(32)


def signature_of(secret: str, body: bytes) -> str:
    """The header value a broker sends for `body` (what the README's curl line computes)."""
    return SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def has_credentials(headers: Mapping[str, str]) -> bool:
    return bool(headers.get(SIGNATURE_HEADER) or headers.get(TOKEN_HEADER))


def is_authentic(secret: str | None, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether `headers` carry a valid signature of `body`, or the secret as a token.
    `secret` None (no such integration, or no postbacks there): compared anyway, False."""
    key = _THROWAWAY if secret is None else secret.encode()
    signature = headers.get(SIGNATURE_HEADER, "")
    if signature:
        expected = SCHEME + hmac.new(key, body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(signature.strip().lower().encode(), expected.encode())
        return good and secret is not None
    token = headers.get(TOKEN_HEADER, "")
    good = hmac.compare_digest(
        hashlib.sha256(token.encode()).digest(), hashlib.sha256(key).digest()
    )
    return good and secret is not None and token != ""
