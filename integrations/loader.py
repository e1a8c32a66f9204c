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
from yaml.error import MarkedYAMLError

from integrations.config import Defaults, IntegrationsFile
from integrations.errors import ConfigError, ConfigProblem

PathPart = int | str
UNIQUE_IDS = "integration ids must be unique"  # the model's message starts so, too
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
        root, data = parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [yaml_problem(exc, text)]) from None
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
        repeated = duplicate_ids(data, root)
        if repeated:  # each at its own line, instead of the model's one line for the file
            problems = [p for p in problems if p.field or UNIQUE_IDS not in p.message] + repeated
        raise ConfigError(source, sorted(problems, key=lambda p: (p.line or 0, p.field))) from None
    # Rules across blocks (e.g. contacts a production integration needs) come
    # after the shapes are valid, still reported with their lines.
    found = [
        ConfigProblem(line_of(root, list(loc)), dotted(list(loc)), message)
        for loc, message in file.cross_problems()
    ]
    if found:
        raise ConfigError(source, sorted(found, key=lambda p: (p.line or 0, p.field)))
    doubtful = [
        ConfigProblem(line_of(root, list(loc)), dotted(list(loc)), message)
        for loc, message in file.cross_warnings()
    ]
    file._warnings = sorted(doubtful, key=lambda p: (p.line or 0, p.field))
    return file


def parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the data of `text`, read in one pass; a YAMLError
    if it is not YAML or nests deeper than `MAX_DEPTH`.

    The data is built from the node tree the lines come from, instead of reading
    the text again: one scan and parse instead of three (the depth check, the tree,
    the data), 31 -> 12 ms of `intmon validate` on the example file."""
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    except yaml.YAMLError:
        # As when the depth was checked over the whole text first: the scan's error
        # (a nesting too deep, or a bad token before it) wins over the parser's.
        check_depth(text)
        raise
    finally:
        loader.dispose()


def yaml_problem(exc: yaml.YAMLError, text: str) -> ConfigProblem:
    """A YAML error as a problem at its line (a bad character has a position only)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line: int | None = mark.line + 1
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
    else:
        line = None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ConfigProblem(line, "", f"YAML syntax: {problem}")


# Deeper than any real file; PyYAML's composer recurses per level and would hit
# Python's recursion limit (a RecursionError, not a message) at a few hundred.
MAX_DEPTH = 64
_OPENING = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def check_depth(text: str) -> None:
    """Raise a YAML error at the line where nesting goes deeper than `MAX_DEPTH`."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        depth = _deeper(depth, token)


def _deeper(depth: int, token: yaml.Token) -> int:
    """The nesting depth after `token`; a YAML error at it past `MAX_DEPTH`."""
    if isinstance(token, _OPENING):
        if depth + 1 > MAX_DEPTH:
            raise MarkedYAMLError(
                problem=f"nested more than {MAX_DEPTH} levels deep",
                problem_mark=token.start_mark,
            )
        return depth + 1
    if isinstance(token, _CLOSING):
        return depth - 1
    return depth


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reporting a value it cannot build at the value's line,
    and refusing a nesting deeper than `MAX_DEPTH` as it reads (before its composer,
    which recurses per level, could hit Python's recursion limit).

    PyYAML itself raises ValueError for a 5000-digit number or a 13th month, and
    AttributeError for a scalar it takes for a timestamp but cannot parse
    (`2020-01-01 00:00:00-00:16:08`): bare exceptions without a position."""

    _depth = 0

    def get_token(self) -> Any:
        token = super().get_token()
        self._depth = _deeper(self._depth, token)
        return token

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            shown = f" {node.value[:40]!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise MarkedYAMLError(
                problem=f"cannot read the value{shown}: {str(exc).split(';')[0]}",
                problem_mark=node.start_mark,
            ) from None


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
                    f"{UNIQUE_IDS}; repeated: {ident}",
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
