"""Redaction of every form a secret can take in what a partner answers.

A partner that echoes a credential rarely echoes it as sent: JSON encoders
escape `/` as `\\/` or every character as `\\u00XX`, URL encoders pick their own
case and their own set of characters to escape, and Basic credentials come back
as base64, often inside a longer blob. `redact(text, secrets)` replaces all of
them with `[REDACTED]`:

    raw                      tok_Ab3/9xQ+zz/KL==
    URL-encoded (any subset  tok_Ab3%2F9xQ%2bzz/KL%3D%3D, tok%5FAb3…, a+b for "a b"
      of characters, either case)
    JSON-escaped             tok_Ab3\\/9xQ+zz\\/KL==, \\u0074\\u006F…, \\", \\\\, \\n,
                             surrogate pairs for characters beyond the BMP
    Python repr              \\x07, \\U0001f511, \\' (a detail quoting a header value)
    HTML entities            &amp; &#38; &#x26; &quot; &#34; &lt; &gt; &#39; &#x27;
    base64 (std, urlsafe,    the whole value with and without padding, and the part
      padded or not)         of it that shows inside any longer blob at each of the
                             three byte alignments: `base64(user:password)` too
    each of these base64 forms URL-encoded or JSON-escaped in turn

Each secret becomes one regular expression: letters, digits and `-._~` (which
encoders leave alone unless they escape everything) as themselves, any other
character as a group of its written forms (so encoders that escape different
sets, or mix styles, still match), plus the two fully escaped spellings. It is
compiled once per secret value (1–10 ms, 5–30 KiB: a 40-character token, a JWT)
and the redactor once per secret set, both kept in LRU caches of 4,096: a check
that runs thousands of times a second pays one cached lookup and a C-speed scan
per secret (bench/redaction.py). A process with more live secrets than that
would compile again on every miss.

Encoded forms shorter than MIN_ENCODED_CHARS, and credentials derived from a
header value (a Bearer token, a Basic password) shorter than that, are left
alone: they would match ordinary text by chance. A secret value itself is
always redacted, however short, as it always was.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "REDACTED",
    "SENSITIVE_NAME",
    "Redactor",
    "credential_values",
    "redact",
    "redact_data",
    "redactor_for",
    "reveals",
]

REDACTED = "[REDACTED]"
# Header and query names whose values are credentials, whatever they look like.
SENSITIVE_NAME = re.compile(
    r"authorization|cookie|api[-_]?key|token|secret|password|passwd|signature|session",
    re.IGNORECASE,
)
MIN_ENCODED_CHARS = 8

_JSON_SHORT = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "\b": "b",
    "\f": "f",
    "\n": "n",
    "\r": "r",
    "\t": "t",
}
# Characters no URL encoder escapes (RFC 3986 unreserved): an encoder that does
# escapes every character (`_escaped_branches`).
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_URLSAFE = {"+": "-", "/": "_"}
_HTML_NAMED = {"&": ("amp",), "<": ("lt",), ">": ("gt",), '"': ("quot",), "'": ("apos",)}
# "Scheme credentials" in an Authorization-like header (RFC 9110 §11.4).
_AUTH_VALUE = re.compile(r"\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s+(\S.*?)\s*")


def _hex(number: int, width: int) -> str:
    """`number` in hexadecimal, as a pattern matching upper- and lower-case digits."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{number:0{width}x}")


def _json_units_of(value: str) -> list[int]:
    return [unit for char in value for unit in _json_units(char)]


def _json_units(char: str) -> list[int]:
    code = ord(char)
    if code <= 0xFFFF:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def _char_forms(char: str) -> list[str]:
    """Every way one character is written by a URL, JSON, HTML encoder or Python's
    repr, as patterns that each start with a literal character."""
    forms = [re.escape(char)]
    if char in _JSON_SHORT:
        forms.append(re.escape("\\" + _JSON_SHORT[char]))
    forms.append("".join(r"\\u" + _hex(unit, 4) for unit in _json_units(char)))
    # Python's repr (a detail that quotes a header value): \xNN, \UNNNNNNNN, \'.
    if ord(char) < 0x100:
        forms.append(r"\\x" + _hex(ord(char), 2))
    forms.append(r"\\U" + _hex(ord(char), 8))
    if char == "'":
        forms.append(r"\\'")
    forms.append("".join("%" + _hex(byte, 2) for byte in char.encode("utf-8")))
    if char == " ":
        forms.append(r"\+")
    if char in _HTML_NAMED:
        names = (*_HTML_NAMED[char], f"#0{{0,4}}{ord(char)}", f"#[xX]0{{0,4}}{_hex(ord(char), 1)}")
        forms.append("&(?:" + "|".join(names) + ");")
    return forms


def _longest_written(char: str) -> int:
    """How many characters the longest of `_char_forms(char)` matches at most."""
    code = ord(char)
    html = len(f"&#x0000{code:x};") if char in _HTML_NAMED else 1
    return max(10, 6 * len(_json_units(char)), 3 * len(char.encode("utf-8")), html)


def _alternatives(char: str, base64: bool) -> list[str]:
    """The written forms of one character of a secret (`base64`: of its base64
    spelling, where the URL-safe alphabet writes `-` for `+` and `_` for `/`)."""
    if char in _UNRESERVED:
        return [re.escape(char)]
    forms = _char_forms(char)
    if base64 and char in _URLSAFE:
        forms.append(_URLSAFE[char])
    return forms


def _branches(form: str, *, base64: bool = False, tail: str = "") -> list[str]:
    """One spelling as written by an encoder that escapes what it must (any subset
    of the characters outside `_UNRESERVED`, in any way), as top-level alternatives
    that each start with a literal: the regex engine then skips, in C, every
    position whose character cannot start a match."""
    group = "(?:{})".format
    rest = "".join(
        alternatives[0] if len(alternatives) == 1 else group("|".join(alternatives))
        for alternatives in (_alternatives(c, base64) for c in form[1:])
    )
    return [first + rest + tail for first in _alternatives(form[0], base64)]


def _written_length(form: str) -> int:
    return sum(1 if c in _UNRESERVED else _longest_written(c) for c in form)


def _escaped_branches(value: str) -> list[str]:
    """The value with every character escaped, as some encoders emit it: `\\uXXXX`
    each, or `%XX` each byte (hex digits in either case)."""
    units = "".join(f"u{unit:04x}" for c in value for unit in _json_units(c))
    percent = "".join(f"{byte:02x}" for byte in value.encode("utf-8"))
    return [
        r"\\(?i:" + units.replace("u", r"\\u")[2:] + ")",
        "%(?i:" + "%".join(percent[k : k + 2] for k in range(0, len(percent), 2)) + ")",
    ]


def _base64_spellings(value: str) -> tuple[str, list[str]]:
    """The value base64-encoded (standard alphabet; `_branches` lets the URL-safe
    one match too): whole and unpadded, and the characters that stand for it alone
    inside any longer base64 text at each of the three byte alignments."""
    data = value.encode("utf-8")
    whole = base64.b64encode(data).decode("ascii").rstrip("=")
    cores = []
    for offset in range(1, 3):  # offset 0's core is a prefix of `whole`
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        # Characters before `start` or from `end` on also carry neighbouring bytes.
        start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        cores.append(encoded[start:end])
    return whole, [core for core in cores if len(core) >= MIN_ENCODED_CHARS]


@dataclass(frozen=True, slots=True)
class _SecretPattern:
    """Every form of one secret as one expression, and how many characters a match
    can span at most."""

    expression: re.Pattern[str]
    longest: int


@lru_cache(maxsize=4096)
def _pattern_of(value: str) -> _SecretPattern:
    """Compiled once per value (about a millisecond; 5–15 KiB of memory): a set
    that changes by one rotated token compiles only that token."""
    whole, cores = _base64_spellings(value)
    branches = _branches(value)
    if len(whole) >= MIN_ENCODED_CHARS:
        padding = "(?:" + "|".join(_char_forms("=")) + "){0,2}"
        branches += _branches(whole, base64=True, tail=padding)
    for core in cores:
        branches += _branches(core, base64=True)
    branches += _escaped_branches(value)
    escaped = max(6 * len(_json_units_of(value)), 3 * len(value.encode("utf-8")))
    written = [_written_length(form) for form in (value, whole + "==", *cores)]
    return _SecretPattern(re.compile("|".join(branches)), max(escaped, *written))


class Redactor:
    """Every form of every secret of one set, ready to find and replace."""

    __slots__ = ("_patterns", "longest")

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._patterns = tuple(_pattern_of(value) for value in values)
        # No match spans more characters: text this far past a cut is enough to
        # redact a secret that straddles it.
        self.longest = max((p.longest for p in self._patterns), default=0)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where secrets are, merged: overlapping secrets (or one overlapping itself,
        `abab` in `ababab`) are covered as one span, so no part is left behind."""
        found = []
        for pattern in self._patterns:
            match = pattern.expression.search(text)  # usually None: one C-speed scan
            while match is not None:
                found.append(match.span())
                # From the next character, not the match's end: a secret may overlap itself.
                match = pattern.expression.search(text, match.start() + 1)
        if not found:
            return []
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def redact(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], REDACTED]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def reveals(self, text: str) -> bool:
        return any(pattern.expression.search(text) for pattern in self._patterns)

    def excerpt(self, body: bytes, size: int) -> str:
        """The first `size` bytes of `body` as text, redacted. Redacted before the cut,
        as far past it as a match can reach, so a secret that straddles the cut leaves
        no first half behind; and no further, so a 64 KiB body costs no more than a
        small one."""
        excerpt = body[:size].decode("utf-8", errors="replace")
        if not self._patterns:
            return excerpt
        # A character takes at most 4 bytes: this many bytes hold `longest` characters.
        window = body[: size + 4 * self.longest].decode("utf-8", errors="replace")
        return self.redact(window[: len(excerpt) + self.longest])[: len(excerpt)]


@lru_cache(maxsize=4096)
def redactor_for(secrets: frozenset[str]) -> Redactor:
    return Redactor(secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret replaced by `[REDACTED]`."""
    if not text or not secrets:
        return text
    return redactor_for(frozenset(secrets)).redact(text)


def reveals(text: str, secrets: Iterable[str]) -> bool:
    """Whether `text` holds any form of any secret."""
    if not text or not secrets:
        return False
    return redactor_for(frozenset(secrets)).reveals(text)


def redact_data(value: Any, secrets: Iterable[str]) -> Any:
    """JSON-like `value` with every form of every secret redacted in every string
    (keys too); lists and tuples come back as lists."""
    known = frozenset(s for s in secrets if s)
    if not known:
        return value
    redactor = redactor_for(known)

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            return redactor.redact(item)
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [clean(v) for v in item]
        return item

    return clean(value)


def credential_values(value: str) -> set[str]:
    """The secrets a credential header value holds: the value, and for
    `Scheme credentials` the credentials alone (a partner may echo only the
    token) and, for Basic, the decoded `user:password` and the password."""
    found = {value} if value else set()
    match = _AUTH_VALUE.fullmatch(value)
    if match is None:
        return found
    scheme, credentials = match.groups()
    derived = [credentials]
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        if ":" in pair:
            derived += [pair, pair.split(":", 1)[1]]
    return found | {d for d in derived if len(d) >= MIN_ENCODED_CHARS}
