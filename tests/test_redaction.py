"""Redaction of every form of a secret (integrations.redaction): one row per form."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from checks.engine import collect_sensitive
from integrations.redaction import REDACTED, credential_values, redact, redactor_for, reveals
from integrations.secrets import redact as secrets_redact

TOKEN = "tok_Ab3/9xQ+zz/KL=="
ODD = 'p"a\\ss wörd&<é>\n\t🔑'


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def ub64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode()


FORMS = [
    ("raw", TOKEN, TOKEN),
    ("issue 22: JSON with \\/", TOKEN, '{"got":"Bearer tok_Ab3\\/9xQ+zz\\/KL=="}'),
    ("json.dumps", ODD, json.dumps({"got": ODD})),
    ("json.dumps, non-ASCII kept", ODD, json.dumps({"got": ODD}, ensure_ascii=False)),
    ("every character \\u-escaped", TOKEN, "".join(f"\\u{ord(c):04x}" for c in TOKEN)),
    (
        "every character \\u-escaped, upper",
        ODD.replace("🔑", "é"),
        "".join(f"\\u{ord(c):04X}" for c in ODD.replace("🔑", "é")),
    ),
    ("surrogate pair", "key🔑key🔑", json.dumps("key🔑key🔑")[1:-1]),
    ("quote", TOKEN, quote(TOKEN)),
    ("quote, safe=''", TOKEN, quote(TOKEN, safe="")),
    ("quote, lower-case escapes", TOKEN, "tok_Ab3%2f9xQ%2bzz%2fKL%3d%3d"),
    ("quote_plus", ODD, quote_plus(ODD)),
    ("quote_plus, lower-case escapes", ODD, quote_plus(ODD).lower()),  # ODD has no capitals
    ("every character percent-encoded", TOKEN, "".join(f"%{b:02X}" for b in TOKEN.encode())),
    ("HTML-escaped", ODD, ODD.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&#34;")),
    ("base64", TOKEN, b64(TOKEN)),
    ("base64 unpadded", TOKEN, b64(TOKEN).rstrip("=")),
    ("urlsafe base64", TOKEN, ub64("??" + TOKEN)),
    ("urlsafe base64 unpadded", TOKEN, ub64(TOKEN).rstrip("=")),
    ("Basic user:password", TOKEN, "Authorization: Basic " + b64(f"someone:{TOKEN}")),
    ("base64 URL-encoded", TOKEN, quote(b64("x" + TOKEN), safe="")),
    (
        "base64 JSON-escaped",
        "s3cr3t?>>?value",
        json.dumps(b64("s3cr3t?>>?value")).replace("/", "\\/"),
    ),
]


@pytest.mark.parametrize(("secret", "text"), [row[1:] for row in FORMS], ids=[r[0] for r in FORMS])
def test_every_form_is_redacted(secret: str, text: str) -> None:
    assert reveals(text, {secret})
    redacted = redact(text, {secret})
    assert REDACTED in redacted
    assert not reveals(redacted, {secret}), redacted


def test_the_issue_22_reproduction_shows_nothing_of_the_token() -> None:
    answer = '{"got":"Bearer tok_Ab3\\/9xQ+zz\\/KL=="}'
    assert secrets_redact(answer, {TOKEN}) == '{"got":"Bearer [REDACTED]"}'


def test_text_around_a_secret_is_kept() -> None:
    text = f"before {quote(TOKEN, safe='')} middle {TOKEN} after"
    assert redact(text, {TOKEN}) == f"before {REDACTED} middle {REDACTED} after"


def test_text_without_a_secret_is_returned_as_is() -> None:
    text = '{"status": "ok", "token": "tok_Ab3/9xQ+zz/KL=", "%": "\\u0041"}'
    assert redact(text, {TOKEN}) == text
    assert redact(text, set()) == text


def test_overlapping_secrets_leave_no_part_behind() -> None:
    assert redact("xyzABCw", {"zA", "ABC"}) == f"xy{REDACTED}w"
    assert redact("ababab", {"abab"}) == REDACTED


def test_longer_secret_wins_over_its_prefix() -> None:
    assert redact("secret-long-value", {"secret", "secret-long-value"}) == REDACTED


def test_short_encoded_forms_are_not_redacted_by_chance() -> None:
    # "ab" base64 is "YWI": too short to be told from ordinary text.
    assert redact("YWI and ab", {"ab"}) == f"YWI and {REDACTED}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bearer tok_Ab3/9xQ+zz/KL==", {"Bearer tok_Ab3/9xQ+zz/KL==", TOKEN}),
        (
            "Basic " + b64("someone:pa55word!"),
            {
                "Basic " + b64("someone:pa55word!"),
                b64("someone:pa55word!"),
                "someone:pa55word!",
                "pa55word!",
            },
        ),
        ("Basic not-base64!!", {"Basic not-base64!!", "not-base64!!"}),
        ("Bearer short", {"Bearer short"}),
        ("plain-api-key-value", {"plain-api-key-value"}),
    ],
)
def test_credential_values(value: str, expected: set[str]) -> None:
    assert credential_values(value) == expected


def test_collect_sensitive_takes_the_token_out_of_its_header() -> None:
    secrets: set[str] = set()
    collect_sensitive({"Authorization": f"Bearer {TOKEN}", "Accept": "x"}, {}, secrets)
    assert TOKEN in secrets
    assert redact(f"you sent {json.dumps(TOKEN)}", secrets) == f'you sent "{REDACTED}"'


@pytest.mark.parametrize("secret", [TOKEN, ODD, "k'ey\x07\x7f\u200bvalue"])
def test_python_repr_is_redacted(secret: str) -> None:
    """A detail may quote a header value with !r."""
    text = f"header X-Echo {secret!r} does not match"
    assert redact(text, {secret}) == text.replace(repr(secret)[1:-1], REDACTED), repr(secret)


@pytest.mark.parametrize("secret", [TOKEN, ODD, "a" * 10 + "€" * 15, "ключ/секрет"])
def test_a_secret_cut_by_the_excerpt_leaves_nothing_before_the_cut(secret: str) -> None:
    """The excerpt is redacted as far past its end as the longest spelling reaches."""
    spellings = [
        "".join(f"%{b:02x}" for b in secret.encode()),
        json.dumps(secret)[1:-1],  # ASCII: every non-ASCII character \u-escaped
    ]
    redactor = redactor_for(frozenset({secret}))
    for spelling in spellings:
        body = ("x" * 40 + spelling + "y" * 4000).encode()
        for size in range(41, 41 + len(spelling.encode())):
            excerpt = redactor.excerpt(body, size)
            # Every spelling here is ASCII: the excerpt has `size` characters.
            assert excerpt == ("x" * 40 + REDACTED + "y" * 4000)[:size], (spelling, size)
