"""Templates in scenario steps: `/leads/{{ lead_id }}`, `{"email": "e2e+{{ run_id }}@x"}`.

The templates come from whoever writes the integrations file, and the values
they are filled with come from a partner's answers, so both are untrusted:

- Jinja2 runs in its `SandboxedEnvironment` (no attribute access to Python
  internals) with `StrictUndefined` (a missing variable is an error, never an
  empty string);
- `${ENV}` / `${file:…}` secret references are taken out of the text before
  Jinja sees it and put back, resolved, at render time. A value a partner sent
  (an extracted id that reads `${DATABASE_PASSWORD}`) is never resolved: it is
  data inside a rendered string, not part of a template;
- every secret resolved is added to the run's secrets set, so reports redact it.

A template is compiled once per distinct text (`compile_template` is cached)
and knows which variables it uses, which is what `integrations.scenarios`
checks when the file is loaded.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integrations.errors import TemplateProblem
from integrations.secrets import REFERENCE, resolve

__all__ = [
    "BUILTINS",
    "Template",
    "compile_template",
    "render_text",
    "render_value",
    "templates_in",
]

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

# Names every scenario may use without defining them (see README, "End-to-end scenarios").
BUILTINS = frozenset({"run_id", "now", "uuid", "integration", "scenario", "callback_url"})
_REF_PREFIX = "_ref_"
_MARKERS = ("{{", "{%", "{#")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}$")


def _finalize(value: Any) -> Any:
    # Structured values print as JSON, not as Python reprs ("true", not "True").
    if isinstance(value, dict | list | bool) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return value


# A rendered value longer than this is refused: `{{ "x" * 10**9 }}` must not
# exhaust a worker's memory.
MAX_RENDERED = 1_000_000


@functools.cache
def _environment() -> SandboxedEnvironment:
    """Jinja's sandbox, plus bounds on the operators that can build huge values.

    Built on first use: Jinja2 is imported only when a text is a template, so a
    file without scenario templates is validated without loading it."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class _Sandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and _number(right) and abs(right) > 64:
                raise TemplateProblem("exponent too large in a template")
            if operator == "*":
                size = _sized(left, right) or _sized(right, left)
                if size > MAX_RENDERED:
                    raise TemplateProblem("value too large in a template")
            return super().call_binop(context, operator, left, right)

    return _Sandbox(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sized(sequence: Any, times: Any) -> int:
    if isinstance(sequence, str | list | tuple) and isinstance(times, int):
        return len(sequence) * times
    return 0


@dataclass(frozen=True, slots=True)
class Template:
    """One compiled template text."""

    source: str
    compiled: jinja2.Template | None  # None: plain text (references at most)
    references: tuple[str, ...]  # `${…}` references as written, in placeholder order
    variables: frozenset[str]  # every name the template reads
    callbacks: frozenset[str]  # the `<name>` of each `callback_url.<name>` used
    whole: str | None  # the variable when the text is exactly `{{ name }}`


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS) or REFERENCE.search(text) is not None


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile `source`; raise `TemplateProblem` on a syntax error."""
    references: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        references.append(match.group(0))
        return f"{{{{ {_REF_PREFIX}{len(references) - 1} }}}}"

    if not is_template(source):
        return Template(source, None, (), frozenset(), frozenset(), None)
    import jinja2
    from jinja2 import meta

    text = REFERENCE.sub(placeholder, source)
    environment = _environment()
    try:
        tree = environment.parse(text)
        compiled = environment.from_string(tree)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax error: {error.message}") from None
    names = {n for n in meta.find_undeclared_variables(tree) if not n.startswith(_REF_PREFIX)}
    whole = _WHOLE.match(source)
    return Template(
        source=source,
        compiled=compiled,
        references=tuple(references),
        variables=frozenset(names),
        callbacks=frozenset(_callback_names(tree)),
        whole=whole.group(1) if whole else None,
    )


def _callback_names(tree: nodes.Template) -> Iterator[str]:
    from jinja2 import nodes

    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "callback_url":
            yield node.attr
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "callback_url"
            and isinstance(item.arg, nodes.Const)
        ):
            yield str(item.arg.value)


def render_text(
    source: str,
    variables: Mapping[str, Any],
    secrets: set[str],
    environ: Mapping[str, str] | None = None,
    *,
    keep_references: bool = False,
) -> str:
    """Render one text template; raise `TemplateProblem` (or `SecretUnavailable`).

    With `keep_references`, `${…}` stay as written (for a spec the probe engine
    resolves and redacts itself)."""
    template = compile_template(source)
    if template.compiled is None:
        return source
    import jinja2  # loaded already: the template was compiled

    context = dict(variables)
    for index, reference in enumerate(template.references):
        value = reference if keep_references else resolve(reference, secrets, environ)
        context[f"{_REF_PREFIX}{index}"] = value
    try:
        return template.compiled.render(context)
    except jinja2.UndefinedError as error:
        raise TemplateProblem(f"{error.message} in {source!r}") from None
    except jinja2.TemplateError as error:  # SecurityError and friends
        raise TemplateProblem(f"{type(error).__name__}: {error} in {source!r}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateProblem(f"{type(error).__name__}: {error} in {source!r}") from None


def render_value(
    value: Any,
    variables: Mapping[str, Any],
    secrets: set[str],
    environ: Mapping[str, str] | None = None,
    *,
    native: bool = False,
    keep_references: bool = False,
) -> Any:
    """Render every string inside `value` (dicts, lists). With `native`, a string that is
    exactly `{{ name }}` becomes the variable's value as it is (a number stays a number)."""
    if isinstance(value, str):
        if native:
            whole = compile_template(value).whole
            if whole is not None and whole in variables:
                return variables[whole]
        return render_text(value, variables, secrets, environ, keep_references=keep_references)
    if isinstance(value, dict):
        return {
            render_text(str(k), variables, secrets, environ, keep_references=keep_references): (
                render_value(
                    v, variables, secrets, environ, native=native, keep_references=keep_references
                )
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            render_value(
                v, variables, secrets, environ, native=native, keep_references=keep_references
            )
            for v in value
        ]
    return value


def templates_in(
    value: Any, at: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(where, text) of every string in `value` that is a template, for validation."""
    if isinstance(value, str):
        if is_template(value):
            yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and is_template(key):
                yield (*at, key), key
            yield from templates_in(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from templates_in(item, (*at, index))
