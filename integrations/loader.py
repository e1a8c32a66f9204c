"""Read an integrations file and report every mistake with its line and field path.

pydantic reports where a value is wrong as a path (`integrations.2.checks.0.expect`);
the YAML node tree knows which line each path starts on. This module joins the
two so `intmon validate` can say "line 14: integrations[2].checks[0].expect.status: …".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from integrations.config import Defaults, IntegrationsFile
from integrations.errors import ConfigError, ConfigProblem

PathPart = int | str
# Later stages extend the file with blocks of their own (the glue's `ConfigFile`
# adds ticket sinks); they pass their model so mistakes there get lines too.
FileT = TypeVar("FileT", bound=IntegrationsFile)


def load_file(path: str | Path, model: type[FileT] = IntegrationsFile) -> FileT:  # type: ignore[assignment]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(path), [ConfigProblem(None, "", f"cannot read file: {exc.strerror}")]
        ) from None
    return load_text(text, source=str(path), model=model)


def load_text(
    text: str,
    source: str = "<text>",
    model: type[FileT] = IntegrationsFile,  # type: ignore[assignment]
) -> FileT:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [ConfigProblem(line, "", f"YAML syntax: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            source, [ConfigProblem(1, "", "the file must be a mapping with an 'integrations' list")]
        )
    try:
        file = model.model_validate(with_defaults(data))
    except ValidationError as exc:
        problems = problems_from(exc, root)
        if not any("must be unique" in p.message for p in problems):
            problems += duplicate_ids(data, root)
        raise ConfigError(source, sorted(problems, key=lambda p: (p.line or 0, p.field))) from None
    # Rules across blocks (e.g. contacts a production integration needs) come
    # after the shapes are valid, still reported with their lines.
    found = [
        ConfigProblem(line_of(root, list(loc)), dotted(list(loc)), message)
        for loc, message in file.cross_problems()
    ]
    if found:
        raise ConfigError(source, sorted(found, key=lambda p: (p.line or 0, p.field)))
    return file


def duplicate_ids(data: dict[str, Any], root: yaml.Node | None) -> list[ConfigProblem]:
    """Repeated integration ids, found on the raw data so they are reported even when
    other mistakes stop the model's own whole-file check from running."""
    items = data.get("integrations")
    if not isinstance(items, list):
        return []
    seen: set[str] = set()
    problems = []
    for index, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str) and ident in seen:
            loc: list[PathPart] = ["integrations", index, "id"]
            problems.append(
                ConfigProblem(
                    line_of(root, loc),
                    dotted(loc),
                    f"integration ids must be unique; repeated: {ident}",
                )
            )
        if isinstance(ident, str):
            seen.add(ident)
    return problems


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Fill each integration's unset fields from `defaults:` before validation.

    Bad defaults are left for the model to report at their own line.
    """
    raw_defaults = data.get("defaults")
    integrations = data.get("integrations")
    if not isinstance(raw_defaults, dict) or not isinstance(integrations, list):
        return data
    try:
        defaults = Defaults.model_validate(raw_defaults).model_dump(exclude_none=True)
    except ValidationError:
        return data
    merged = [{**defaults, **item} if isinstance(item, dict) else item for item in integrations]
    return {**data, "integrations": merged}


def problems_from(error: ValidationError, root: yaml.Node | None) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = without_union_tags(list(item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(ConfigProblem(line_of(root, loc), dotted(loc), message))
    return problems


AUTH_TAGS = {"none", "basic", "bearer", "header", "query", "oauth2_client_credentials"}


def without_union_tags(loc: list[PathPart]) -> list[PathPart]:
    """Drop the steps pydantic adds for union members (`auth.bearer.token`, `status[0].int`)."""
    out: list[PathPart] = []
    for part in loc:
        previous = out[-1] if out else None
        if previous == "auth" and part in AUTH_TAGS:
            continue
        if (
            isinstance(previous, int)
            and len(out) >= 2
            and out[-2] == "status"
            and part in ("int", "str")
        ):
            continue
        out.append(part)
    return out


def dotted(loc: list[PathPart]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def line_of(root: yaml.Node | None, loc: list[PathPart]) -> int | None:
    """The 1-based line of the deepest node on `loc` that exists in the file."""
    node = root
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: PathPart) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                # Point at the key's line: for a block value the value starts below it.
                return _KeyAnchored(key, value)
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if 0 <= part < len(node.value) else None
    if isinstance(node, _KeyAnchored):
        return _child(node.value_node, part)
    return None


class _KeyAnchored(yaml.Node):
    """A mapping value whose reported position is that of its key."""

    def __init__(self, key: yaml.Node, value: yaml.Node) -> None:
        super().__init__(value.tag, value.value, key.start_mark, value.end_mark)
        self.value_node = value
