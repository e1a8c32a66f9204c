"""Response contracts: the shape of a partner's answer, and what changed in it.

A check's *contract* is learned from its passing answers: the status code, the
media type, the JSON shape (each path with its JSON type, e.g. `$.items[].id:
number`) and the `WWW-Authenticate` challenge, if any. When an auth or contract
incident opens, the failing answer's shape is compared with the learned one:
the changes are the evidence that the broker changed something.

    shape_of(status, headers, body)  → Shape    (pure, bounded in size)
    diff(learned, observed)          → [Change] (pure, ordered for reading)
    describe(changes)                → "`$.status` removed, `$.state` added"

Plain data and pure functions shared by every stage: the probe takes shapes
(when, is `checks.contract`'s `ShapeSampler`), the worker stores the learned
one (`integrations.contracts`), alerts compare them (`alerts.contract_changes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "Change",
    "Shape",
    "describe",
    "diff",
    "header_value",
    "shape_of",
]

# Bounds, so a huge or hostile answer costs little and stores little.
MAX_DEPTH = 8
MAX_PATHS = 100
ARRAY_SAMPLE = 3  # elements of each array looked at
MAX_CHALLENGE_CHARS = 200
MAX_CHANGES_DESCRIBED = 20

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# One item of a WWW-Authenticate header: `name=value` (value quoted or not) or a
# bare token (an auth scheme, or a token68).
CHALLENGE_ITEM = re.compile(
    r'\s*,?\s*(?:([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=(?!=)\s*("(?:[^"\\]|\\.)*"|[^,\s]*)'
    r"|([^\s,=]+=*))"
)
# Parameters whose value changes with every answer (Digest): their value is not
# part of the contract, only their presence.
VOLATILE_PARAMS = frozenset({"nonce", "opaque", "cnonce"})


@dataclass(frozen=True, slots=True)
class Shape:
    """What one answer looked like, without its values.

    `json` is None when the body was not JSON; otherwise (path, type) pairs in
    path order, the types of a path seen with several joined by `|`.
    `truncated` says a bound was hit: paths beyond it are unknown, not absent.
    """

    status: int
    content_type: str = ""
    json: tuple[tuple[str, str], ...] | None = None
    truncated: bool = False
    auth_challenge: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "content_type": self.content_type,
            "json": None if self.json is None else dict(self.json),
            "truncated": self.truncated,
            "auth_challenge": self.auth_challenge,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Shape:
        """The inverse of `to_json`; a malformed document names the bad field."""
        status = data.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise ValueError(f"shape field 'status' must be an integer, not {status!r}")
        content_type = data.get("content_type", "")
        if not isinstance(content_type, str):
            raise ValueError(f"shape field 'content_type' must be a string, not {content_type!r}")
        paths = data.get("json")
        if paths is not None and not (
            isinstance(paths, dict) and all(isinstance(v, str) for v in paths.values())
        ):
            raise ValueError("shape field 'json' must map paths to type names")
        challenge = data.get("auth_challenge")
        if challenge is not None and not isinstance(challenge, str):
            raise ValueError(f"shape field 'auth_challenge' must be a string, not {challenge!r}")
        return cls(
            status=status,
            content_type=content_type,
            json=None if paths is None else tuple(sorted(paths.items())),
            truncated=bool(data.get("truncated", False)),
            auth_challenge=challenge,
        )

    def redacted(self, hide: Callable[[str], str]) -> Shape:
        """The shape with `hide` applied to every text that came from the partner
        (keys and the challenge): a partner may echo a secret as a key."""
        return replace(
            self,
            json=None if self.json is None else tuple((hide(p), t) for p, t in self.json),
            auth_challenge=None if self.auth_challenge is None else hide(self.auth_challenge),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the learned contract and an answer.

    kind: status | content_type | auth_challenge | json | removed | added | type
    """

    kind: str
    path: str = ""
    before: str | None = None
    after: str | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        kind, text = data.get("kind"), data.get("text")
        if not isinstance(kind, str) or not isinstance(text, str):
            raise ValueError("change fields 'kind' and 'text' must be strings")
        return cls(kind, str(data.get("path") or ""), data.get("before"), data.get("after"), text)


# --- shape ---------------------------------------------------------------------


def shape_of(
    status: int, headers: Mapping[str, str], body: bytes, *, truncated: bool = False
) -> Shape:
    """The shape of one answer. `truncated`: the body was cut at the probe's cap,
    so it cannot be parsed and its paths are unknown."""
    media_type = _media_type(header_value(headers, "content-type"))
    challenge = _challenge(header_value(headers, "www-authenticate"))
    if truncated:
        return Shape(status, media_type, None, True, challenge)
    document = _json_body(media_type, body)
    if document is _NOT_JSON:
        return Shape(status, media_type, None, False, challenge)
    paths: dict[str, set[str]] = {}
    cut = _walk(document, "$", 0, paths)
    json_paths = tuple((path, "|".join(sorted(types))) for path, types in sorted(paths.items()))
    return Shape(status, media_type, json_paths, cut, challenge)


def header_value(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():  # a plain dict is not case-insensitive
        if key.lower() == name:
            return candidate
    return ""


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_NOT_JSON = object()


def _json_body(media_type: str, body: bytes) -> Any:
    start = body.lstrip()[:1]
    if "json" not in media_type and start not in (b"{", b"["):
        return _NOT_JSON
    try:
        return json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return _NOT_JSON


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"


def _walk(value: Any, path: str, depth: int, paths: dict[str, set[str]]) -> bool:
    """Record `path: type` and descend; True when a bound cut something off."""
    if path not in paths:
        if len(paths) >= MAX_PATHS:
            return True
        paths[path] = set()
    paths[path].add(_type_name(value))
    if not isinstance(value, dict | list) or not value:
        return False
    if depth >= MAX_DEPTH:
        return True
    cut = False
    if isinstance(value, dict):
        for key, child in value.items():
            step = f".{key}" if IDENTIFIER.match(key) else f"[{json.dumps(key)}]"
            cut = _walk(child, path + step, depth + 1, paths) or cut
    else:
        for child in value[:ARRAY_SAMPLE]:
            cut = _walk(child, path + "[]", depth + 1, paths) or cut
    return cut


def _challenge(header: str) -> str | None:
    """The challenge normalised: `Scheme name="value", …`, volatile values dropped."""
    if not header.strip():
        return None
    challenges: list[list[str]] = []
    for match in CHALLENGE_ITEM.finditer(header):
        name, value, token = match.groups()
        if token is not None:
            if challenges and not challenges[-1][1:] and "=" in token:
                challenges[-1].append(token)  # token68 after its scheme
            else:
                challenges.append([token])
        elif name is not None:
            if not challenges:
                challenges.append([""])
            shown = '"…"' if name.lower() in VOLATILE_PARAMS else _quoted(value or "")
            challenges[-1].append(f"{name.lower()}={shown}")
    text = ", ".join(
        (parts[0] + (" " if parts[0] and parts[1:] else "") + ", ".join(parts[1:])).strip()
        for parts in challenges
    )
    return text[:MAX_CHALLENGE_CHARS] or None


def _quoted(value: str) -> str:
    return value if value.startswith('"') else f'"{value}"'


# --- diff ----------------------------------------------------------------------


def diff(learned: Shape, observed: Shape) -> list[Change]:
    """What changed from the learned contract to the observed answer, in reading
    order: status, content type, challenge, then JSON removals, additions and
    type changes (each by path). A change inside a removed, added or retyped
    path is not listed again."""
    changes: list[Change] = []
    if learned.status != observed.status:
        note = {404: " (path now 404)", 410: " (path gone)"}.get(observed.status, "")
        changes.append(
            Change(
                "status",
                before=str(learned.status),
                after=str(observed.status),
                text=f"status {learned.status} → {observed.status}{note}",
            )
        )
    if learned.content_type != observed.content_type:
        before, after = learned.content_type or "none", observed.content_type or "none"
        changes.append(
            Change(
                "content_type", before=before, after=after, text=f"content type {before} → {after}"
            )
        )
    if learned.auth_challenge != observed.auth_challenge:
        changes.append(_challenge_change(learned, observed))
    changes.extend(_json_changes(learned, observed))
    return changes


def _challenge_change(learned: Shape, observed: Shape) -> Change:
    before, after = learned.auth_challenge, observed.auth_challenge
    if after is None:
        text = f"{observed.status} now without `WWW-Authenticate` (was `{before}`)"
    else:
        text = f"{observed.status} now with `WWW-Authenticate: {after}`"
        if before is not None:
            text += f" (was `{before}`)"
    return Change("auth_challenge", before=before, after=after, text=text)


def _json_changes(learned: Shape, observed: Shape) -> list[Change]:
    if learned.json is None:
        if observed.json is not None and not learned.truncated:
            return [Change("json", before="not JSON", after="JSON", text="body is JSON now")]
        return []
    if observed.json is None:
        if observed.truncated:
            return []  # cut at the probe's cap: unknown, not changed
        return [Change("json", before="JSON", after="not JSON", text="body is no longer JSON")]
    before, after = dict(learned.json), dict(observed.json)
    # An empty array has no element paths: its elements are unknown, not removed.
    unknown = _empty_arrays(before) | _empty_arrays(after)
    # Retyped paths first: `$.data` object → array makes `$.data.id` gone, but
    # that is one change, not two.
    reported: list[str] = []
    retyped = _fresh(
        sorted(p for p in before.keys() & after.keys() if before[p] != after[p]), reported, unknown
    )
    removed = (
        []
        if observed.truncated
        else _fresh(sorted(before.keys() - after.keys()), reported, unknown)
    )
    added = (
        [] if learned.truncated else _fresh(sorted(after.keys() - before.keys()), reported, unknown)
    )
    return [
        *(Change("removed", p, before[p], None, f"`{p}` removed") for p in removed),
        *(Change("added", p, None, after[p], f"`{p}` added") for p in added),
        *(
            Change("type", p, before[p], after[p], f"`{p}` {before[p]} → {after[p]}")
            for p in retyped
        ),
    ]


def _empty_arrays(paths: Mapping[str, str]) -> set[str]:
    return {p + "[]" for p, t in paths.items() if t == "array" and p + "[]" not in paths}


def _fresh(paths: Iterable[str], reported: list[str], unknown: set[str]) -> list[str]:
    """Paths not inside one already reported (or inside an empty array); records them."""
    kept = []
    for path in paths:
        if any(_inside(path, outer) for outer in reported) or any(
            path == outer or _inside(path, outer) for outer in unknown
        ):
            continue
        kept.append(path)
        reported.append(path)
    return kept


def _inside(path: str, outer: str) -> bool:
    return path.startswith(outer) and path[len(outer) : len(outer) + 1] in (".", "[")


def describe(changes: Iterable[Change], limit: int = MAX_CHANGES_DESCRIBED) -> str:
    """The changes as one line for a ticket: "`$.status` removed, `$.state` added"."""
    texts = [change.text for change in changes]
    if len(texts) > limit:
        texts = [*texts[:limit], f"… and {len(texts) - limit} more"]
    return ", ".join(texts)
