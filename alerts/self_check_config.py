"""The `self_check:` block of the configuration file (is it them or us), apart from
the outage bookkeeping in alerts.platform_outages, so that validating a file does
not import the database layer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from alerts.platform_verdict import CorrelationRule
from checks.canary_spec import CanarySpec
from integrations.strict import Strict

# A DNS name (labels of letters, digits, '-' and '_'), at most 253 characters.
HOSTNAME = r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$"


class SelfCheckConfig(Strict):
    """The `self_check:` block of the configuration file."""

    # HTTP(S) targets the platform itself must reach; all failing is an outage.
    canaries: list[CanarySpec] = Field(default_factory=list)
    # Names the checks' resolver must resolve; all failing is an outage.
    dns_names: list[Annotated[str, Field(pattern=HOSTNAME, max_length=253)]] = Field(
        default_factory=list
    )
    correlated: CorrelationRule = Field(default_factory=CorrelationRule)
