"""Lead delivery bodies: JSON whose string values are Jinja2 templates over the lead.

`"{{ lead.email }}"` alone keeps the field's own type (a number stays a number);
anything longer (`"{{ lead.first_name }} {{ lead.last_name }}"`) renders to a
string. Templates run in Jinja2's sandbox with strict undefined variables, so a
lead missing a field the broker needs is refused when it is submitted, naming
the field (`LeadDataError`), instead of failing at the broker.

    compile_body(body)             the configuration's check (`specs.leads.DeliverySpec`)
    render_body(body, lead, id)    the request's body (`leads.delivery`)
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["LeadDataError", "compile_body", "render_body"]


@functools.cache
def _environment() -> SandboxedEnvironment:
    # Built on first use: validating a file whose delivery has no body never loads Jinja2.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


_WHOLE_FIELD = re.compile(r"^\{\{\s*lead\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


class LeadDataError(ValueError):
    """A lead the delivery template cannot render; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def compile_body(body: Any, where: str = "body") -> None:
    """Raise ValueError naming the template that does not parse."""
    if isinstance(body, str):
        from jinja2 import TemplateSyntaxError

        try:
            _environment().parse(body)
        except TemplateSyntaxError as exc:
            raise ValueError(f"{where}: bad template {body!r}: {exc.message}") from None
    elif isinstance(body, dict):
        for key, value in body.items():
            compile_body(value, f"{where}.{key}")
    elif isinstance(body, list):
        for index, value in enumerate(body):
            compile_body(value, f"{where}[{index}]")


def render_body(body: Any, lead: dict[str, Any], lead_id: str, where: str = "body") -> Any:
    """The JSON body for one lead; LeadDataError names a missing field."""
    if isinstance(body, str):
        whole = _WHOLE_FIELD.match(body)
        if whole:
            name = whole.group(1)
            if name not in lead:
                raise LeadDataError(f"fields.{name}", f"missing (the delivery's {where} uses it)")
            return lead[name]
        from jinja2 import UndefinedError
        from jinja2.exceptions import SecurityError

        try:
            return _environment().from_string(body).render(lead=lead, lead_id=lead_id)
        except UndefinedError as exc:
            raise LeadDataError("fields", f"{exc.message} (the delivery's {where})") from None
        except SecurityError as exc:
            raise LeadDataError("fields", f"refused by the template sandbox: {exc}") from None
    if isinstance(body, dict):
        return {k: render_body(v, lead, lead_id, f"{where}.{k}") for k, v in body.items()}
    if isinstance(body, list):
        return [render_body(v, lead, lead_id, f"{where}[{i}]") for i, v in enumerate(body)]
    return body
