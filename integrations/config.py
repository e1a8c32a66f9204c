"""The integrations file: one YAML document that says what intmon watches.

Every model forbids unknown keys, so a typo is an error with its line, not a
silently ignored setting. Secrets are never written inline: auth fields take
`${ENV_VAR}` or `${file:/path}` references (see `integrations.secrets`).

Blocks that later stages fill are reserved here (`contacts`, `e2e`) so that
files written today stay valid.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, field_validator, model_validator

from core.vocabulary.assertions import compile_assertion
from integrations.errors import ConfigProblem
from integrations.partner_budget import allowance, window_of
from integrations.scenarios import E2E_CHECK_PREFIX, ScenarioSpec, iter_scenario_problems
from integrations.secrets import SecretRef as SecretRef
from integrations.secrets import secret_reference as secret_reference
from integrations.specs.heartbeats import HEARTBEAT_CHECK_PREFIX, HeartbeatSpec
from integrations.specs.leads import (
    LEAD_FLOW_CHECK,
    ChangeNoticeSpec,
    DeliverySpec,
    LeadFlowSpec,
)
from integrations.specs.postbacks import POSTBACK_CHECK, PostbackSpec
from integrations.strict import SLUG, Strict, compile_regex, status_patterns
from integrations.tiers import Tier
from integrations.windows import MaintenanceSpec

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Kind(enum.StrEnum):
    ADVERTISER = "advertiser"
    BROKER = "broker"
    SHOP = "shop"
    OTHER = "other"


# --- auth schemes --------------------------------------------------------------


class NoAuth(Strict):
    type: Literal["none"] = "none"


class BasicAuth(Strict):
    type: Literal["basic"]
    username: str
    password: SecretRef


class BearerAuth(Strict):
    type: Literal["bearer"]
    token: SecretRef


class HeaderAuth(Strict):
    type: Literal["header"]
    header: str = Field(min_length=1)
    value: SecretRef


class QueryAuth(Strict):
    type: Literal["query"]
    param: str = Field(min_length=1)
    value: SecretRef


class OAuth2ClientCredentials(Strict):
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str
    client_secret: SecretRef
    scope: str | None = None
    audience: str | None = None
    # Send the client credentials as HTTP Basic (RFC 6749 §2.3.1) or in the form body.
    client_auth: Literal["basic", "body"] = "basic"

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


Auth = Annotated[
    NoAuth | BasicAuth | BearerAuth | HeaderAuth | QueryAuth | OAuth2ClientCredentials,
    Field(discriminator="type"),
]


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


# --- checks ------------------------------------------------------------------


StatusPattern = Annotated[str | int, Field(union_mode="left_to_right")]


class Expectation(Strict):
    """What a healthy answer looks like. Anything else is classified as a failure."""

    # Allowed statuses: numbers (200) or classes ("2xx"). Default: any 2xx.
    status: list[StatusPattern] = Field(default_factory=lambda: list[str | int](["2xx"]))
    # JSON-path assertions, e.g. '$.status == "ok"', '$.items exists'.
    json_: list[str] = Field(default_factory=list, alias="json")
    # Header name → regular expression its value must match (searched).
    headers: dict[str, str] = Field(default_factory=dict)
    # Regular expressions that, found in the body, mean an authentication error
    # even with status 200 (brokers do this).
    auth_error_patterns: list[str] = Field(default_factory=list)
    max_latency_ms: int | None = Field(default=None, gt=0)

    @field_validator("status")
    @classmethod
    def _statuses(cls, values: list[str | int]) -> list[str | int]:
        return status_patterns(values)

    @field_validator("json_")
    @classmethod
    def _assertions(cls, values: list[str]) -> list[str]:
        for text in values:
            compile_assertion(text)  # raises ValueError naming what is wrong
        return values

    @field_validator("auth_error_patterns")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for pattern in values:
            compile_regex(pattern)
        return values

    @field_validator("headers")
    @classmethod
    def _header_patterns(cls, values: dict[str, str]) -> dict[str, str]:
        for pattern in values.values():
            compile_regex(pattern)
        return values

    def value_key(self) -> tuple[Any, ...]:
        """The expectation's value, hashable: equal expectations give equal keys (a
        fleet repeats a few, and they are held and compiled once per value)."""
        # Derived from the fields, so a field added later cannot be left out (two
        # expectations differing only in it would share one compiled form).
        return tuple(_hashable(getattr(self, name)) for name in type(self).model_fields)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(value.items())
    return value


class CheckSpec(Strict):
    name: str = Field(pattern=SLUG)
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    expect: Expectation = Field(default_factory=Expectation)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in HTTP_METHODS:
            raise ValueError(f"unknown HTTP method {value!r}; use one of {', '.join(HTTP_METHODS)}")
        return upper

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


# --- integration-level blocks --------------------------------------------------


class TLSSettings(Strict):
    verify: bool = True
    ca_file: str | None = None
    # Warn when the certificate expires within this many days.
    expiry_warning_days: int = Field(default=14, ge=0)


class Thresholds(Strict):
    """How many results in a row open or resolve an incident (used by alerts/)."""

    failure_threshold: int = Field(default=3, ge=1)
    success_threshold: int = Field(default=2, ge=1)


class SloSpec(Strict):
    """A service level objective: `target` percent of counted results up over the
    last `window_days` (results in maintenance or held back by a platform outage
    do not count). What is left of the error budget and how fast it burns are
    metrics (`integrations.slo`)."""

    target: float = Field(gt=0, lt=100)
    window_days: int = Field(default=30, ge=1, le=366)


# A heartbeat opens its incident at the first miss and resolves at the first ping:
# its grace is the tolerance.
HEARTBEAT_THRESHOLDS = Thresholds(failure_threshold=1, success_threshold=1)
# A postback monitor's window is its tolerance in the same way: one pass that finds
# too few postbacks opens the incident, one that finds enough resolves it.
POSTBACK_THRESHOLDS = Thresholds(failure_threshold=1, success_threshold=1)

# A lead-flow judgement already sums up a whole window: one anomalous window opens the
# incident; two normal judgements in a row (integrations.leads.flow.EVERY_S apart) close it.
LEAD_FLOW_THRESHOLDS = Thresholds(failure_threshold=1, success_threshold=2)


class IntegrationSpec(Strict):
    id: str = Field(pattern=SLUG)
    name: str = Field(min_length=1)
    kind: Kind
    client: str = Field(pattern=SLUG)
    tier: Tier = Tier.STANDARD
    base_url: str
    auth: Auth = Field(default_factory=NoAuth)
    interval_s: float = Field(default=30.0, ge=1.0, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Extra attempts on transient network errors (never on auth failures).
    retries: int = Field(default=1, ge=0, le=3)
    follow_redirects: bool = True
    enabled: bool = True
    # In production monitoring: its contacts are notified of incidents, and the
    # contact roles the notifications block requires must be present.
    production: bool = False
    tls: TLSSettings = Field(default_factory=TLSSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    slo: SloSpec | None = None
    checks: list[CheckSpec] = Field(min_length=1)
    # Reserved for the stages that build on the core pipeline; their shapes are
    # validated there. Listed here so a file that uses them is not rejected.
    contacts: list[dict[str, Any]] = Field(default_factory=list)
    maintenance: list[MaintenanceSpec] = Field(default_factory=list)
    # Brokers' announcements of technical changes (the 48-hour liability rule).
    change_notices: list[ChangeNoticeSpec] = Field(default_factory=list)
    # How leads are sent to this partner (integrations/leads).
    delivery: DeliverySpec | None = None
    # Bounds on the broker's acceptance rate and delivery time (integrations.leads.flow).
    lead_flow: LeadFlowSpec | None = None
    e2e: dict[str, Any] | None = None
    # End-to-end scenarios (integrations/scenarios.py), run on request or on a schedule.
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    # Push monitors: jobs that ping intmon (integrations/heartbeats).
    heartbeats: list[HeartbeatSpec] = Field(default_factory=list)
    # A broker's status callbacks about delivered leads (integrations/postbacks).
    postbacks: PostbackSpec | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> IntegrationSpec:
        if self.timeout_s > self.interval_s:
            raise ValueError(
                f"timeout_s ({self.timeout_s:g}) must not exceed interval_s ({self.interval_s:g})"
            )
        names = [check.name for check in self.checks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"check names must be unique; repeated: {', '.join(duplicates)}")
        notices = [notice.id for notice in self.change_notices]
        repeated = sorted({name for name in notices if notices.count(name) > 1})
        if repeated:
            raise ValueError(f"change notice ids must be unique; repeated: {', '.join(repeated)}")
        beats = [heartbeat.name for heartbeat in self.heartbeats]
        repeated = sorted({name for name in beats if beats.count(name) > 1})
        if repeated:
            raise ValueError(f"heartbeat names must be unique; repeated: {', '.join(repeated)}")
        return self

    def check(self, name: str) -> CheckSpec | None:
        """The check called `name`, or None (it may have been removed since it was scheduled)."""
        return next((check for check in self.checks if check.name == name), None)

    def scenario(self, name: str) -> ScenarioSpec | None:
        return next((scenario for scenario in self.scenarios if scenario.name == name), None)

    def heartbeat(self, name: str) -> HeartbeatSpec | None:
        return next((heartbeat for heartbeat in self.heartbeats if heartbeat.name == name), None)

    def watches(self, check_name: str) -> bool:
        """Whether results named `check_name` still come: a check, the `e2e:<name>`
        results of a scheduled scenario, the `heartbeat:<name>` results of a
        heartbeat or the postback monitor's (incidents wait for these to recover)."""
        if self.check(check_name) is not None:
            return True
        if check_name == POSTBACK_CHECK:
            return self.postbacks is not None
        if check_name == LEAD_FLOW_CHECK:
            return self.lead_flow is not None
        if check_name.startswith(HEARTBEAT_CHECK_PREFIX):
            return self.heartbeat(check_name.removeprefix(HEARTBEAT_CHECK_PREFIX)) is not None
        name = check_name.removeprefix(E2E_CHECK_PREFIX)
        scenario = self.scenario(name) if name != check_name else None
        return scenario is not None and scenario.schedule_s is not None

    def thresholds_for(self, check_name: str) -> Thresholds:
        """The streaks that open and resolve an incident for `check_name`. A heartbeat's
        tolerance is its grace: one missed period opens the incident, and one ping
        after it resolves it (a daily job must not take three days to alert)."""
        if check_name.startswith(HEARTBEAT_CHECK_PREFIX):
            return HEARTBEAT_THRESHOLDS
        if check_name == POSTBACK_CHECK:
            return POSTBACK_THRESHOLDS
        if check_name == LEAD_FLOW_CHECK:
            return LEAD_FLOW_THRESHOLDS
        return self.thresholds


def checks_starved(spec: IntegrationSpec) -> str | None:
    """Why the partner's request budget leaves this integration's checks no request
    in a window, or None. Such checks would be skipped for good, silently, while
    the board kept the last result (issue 21)."""
    delivery = spec.delivery
    if delivery is None or delivery.rate_limit_rps is None:
        return None
    _, capacity = window_of(delivery.rate_limit_rps, 0.0)
    if allowance(capacity, delivery.checks_share) >= 1:
        return None
    return (
        f"integration {spec.id}: delivery.checks_share {delivery.checks_share:g} of "
        f"rate_limit_rps {delivery.rate_limit_rps:g} leaves its checks an allowance of 0 "
        "requests, so they would never run; give checks_share above 0"
    )


class Defaults(Strict):
    """Values every integration inherits unless it sets its own."""

    tier: Tier | None = None
    interval_s: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    follow_redirects: bool | None = None


class IntegrationsFile(Strict):
    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=Defaults)
    integrations: list[IntegrationSpec] = Field(default_factory=list)
    # Set by the loader: what `cross_warnings` found, with lines.
    _warnings: list[ConfigProblem] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[ConfigProblem]:
        """Doubtful but valid settings (`intmon validate` prints them; they fail nothing)."""
        return self._warnings

    def cross_warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Settings that are valid but likely wrong, as (path, message); the glue's
        ConfigFile adds its own. The loader adds the lines.

        Here: every `${ENV}` / `${file:}` reference (in any block, the subclass's
        too) that cannot be read where the file is loaded."""
        from integrations.references import unreadable_references

        return [
            (found.loc, found.warning)
            for found in unreadable_references(self.model_dump(mode="json"))
        ]

    def cross_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Mistakes that span blocks, as (path, message); a file model that adds
        blocks (the glue's ConfigFile) extends this. The loader adds the lines."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, spec in enumerate(self.integrations):
            at = ("integrations", index, "scenarios")
            problems += iter_scenario_problems(spec.scenarios, at)
            starved = checks_starved(spec)
            if starved:
                problems.append((("integrations", index, "delivery", "checks_share"), starved))
        return problems

    @model_validator(mode="after")
    def _unique_ids(self) -> IntegrationsFile:
        ids = [integration.id for integration in self.integrations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"integration ids must be unique; repeated: {', '.join(duplicates)}")
        return self
