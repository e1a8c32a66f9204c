"""Secret references: `${ENV_VAR}` or `${file:/path/to/secret}`.

The configuration, the database and every message carry only the reference;
the value is read where it is used (the worker) and every value read is also
returned so the caller can redact it, in every form, from whatever it prints or
stores (`integrations.redaction.redact`, re-exported here).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from integrations.errors import SecretUnavailable
from integrations.redaction import REDACTED, redact

__all__ = [
    "REDACTED",
    "REFERENCE",
    "SecretRef",
    "has_reference",
    "is_pure_reference",
    "redact",
    "references",
    "resolve",
]

REFERENCE = re.compile(r"\$\{(?:file:(?P<file>[^}]+)|(?P<env>[A-Za-z_][A-Za-z0-9_]*))\}")


def has_reference(text: str) -> bool:
    return REFERENCE.search(text) is not None


def references(text: str) -> list[str]:
    """The references in `text`, as written (`ENV_VAR` or `file:/path`)."""
    return [m.group("env") or f"file:{m.group('file')}" for m in REFERENCE.finditer(text)]


def is_pure_reference(text: str) -> bool:
    return REFERENCE.fullmatch(text.strip()) is not None


def secret_reference(value: str) -> str:
    """A configuration field that holds a secret: only a reference, never the value."""
    if not is_pure_reference(value):
        raise ValueError("write secrets as ${ENV_VAR} or ${file:/path/to/secret}, never inline")
    return value


# A configuration field holding a secret (auth, a postback's shared secret).
SecretRef = Annotated[str, AfterValidator(secret_reference)]


def resolve(text: str, secrets: set[str], environ: Mapping[str, str] | None = None) -> str:
    """Replace every reference in `text` by its value, adding the values to `secrets`.

    Raises `SecretUnavailable` naming the variable or file, never the value.
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        if match.group("env"):
            name = match.group("env")
            if name not in env:
                raise SecretUnavailable(f"environment variable {name} is not set")
            value = env[name]
        else:
            path = Path(match.group("file"))
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretUnavailable(
                    f"secret file {path} cannot be read: {exc.strerror}"
                ) from None
        if value:
            secrets.add(value)
        return value

    return REFERENCE.sub(substitute, text)
