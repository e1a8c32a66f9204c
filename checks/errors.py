"""Errors of the checks package.

`ProbeFailure` and its children never escape `ProbeEngine.run_check`: each one
carries the outcome and the (unredacted) detail it becomes, and the engine turns
it into a `CheckResult`. The `permanent` flag is what the retry layer reads:
only a transient failure is attempted again, inside the probe (STYLE §5).

    ChecksError                      base; .permanent
    ├── ProbeFailure                 a check got no answer worth classifying; .outcome, .detail
    │   ├── AuthFailure              credentials missing or refused (permanent until fixed)
    │   │   └── TokenRequestRefused  the OAuth2 token endpoint said no (permanent)
    │   ├── ConfigError              intmon cannot make the request as configured: a secret
    │   │                            unset or unreadable here, an invalid rendered request
    │   │                            (permanent until the configuration is fixed)
    │   └── TransportFailure         no usable HTTP answer: DNS, refused, reset, TLS, timeout;
    │                                transient only for refused / reset / remote disconnect
    └── EngineClosed                 the probe engine was closed (permanent); raised to callers
"""

from __future__ import annotations

from core.vocabulary.outcomes import Outcome


class ChecksError(Exception):
    permanent: bool = True


class ProbeFailure(ChecksError):
    """A check could not produce an HTTP answer worth classifying."""

    def __init__(self, outcome: Outcome, detail: str, *, permanent: bool = True) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.permanent = permanent


class AuthFailure(ProbeFailure):
    """Credentials are unavailable or refused; retrying cannot help. Permanent."""

    def __init__(self, detail: str) -> None:
        super().__init__(Outcome.AUTH_FAILURE, detail, permanent=True)


class TokenRequestRefused(AuthFailure):
    """The OAuth2 token endpoint answered 4xx or without an access token. Permanent."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class ConfigError(ProbeFailure):
    """The request cannot be made as configured; the platform's fault, not the partner's.
    Permanent until someone fixes the configuration or the environment."""

    def __init__(self, detail: str) -> None:
        super().__init__(Outcome.CONFIG_ERROR, detail, permanent=True)


class TransportFailure(ProbeFailure):
    """The request failed below HTTP. Transient for refused/reset/disconnect only."""


class EngineClosed(ChecksError):
    """Checks were submitted to an engine after `close()`. Permanent."""
