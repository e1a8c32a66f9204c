"""The leader's periodic job: the platform's self-check, SLA breaches, auto-close,
outbox sends, sync-back, the rollups of check results and the retention of raw results.

Each part is safe to run twice at once (conditional updates, leased outbox
rows), so a fail-over moment where two schedulers both enqueue it is harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from alerts import documents, mirror, platform_outages
from alerts.channels import Channel, ChannelsConfig, build_channels
from alerts.deliver import deliver
from alerts.escalation import EscalationReport, escalate
from alerts.lead_flow_watch import watch_lead_flow
from alerts.policy import Policy
from alerts.sender import close_all
from alerts.sweep import SweepReport, sweep
from core.outbox import DispatchReport
from integrations.retention import Retention, RetentionReport, prune
from integrations.rollups import RollupPass, RollupRetention, housekeep_rollups, watermark

log = logging.getLogger(__name__)
# Rollups have never run: no raw result is old enough to drop.
NEVER_DAYS = 36_500


@dataclass
class HousekeepingReport:
    sweep: SweepReport
    dispatch: DispatchReport
    sync: mirror.SyncReport | None = None
    notified: DispatchReport = field(default_factory=DispatchReport)
    escalation: EscalationReport = field(default_factory=EscalationReport)
    self_check: platform_outages.Evaluation | None = None
    rollups: RollupPass | None = None
    retention: RetentionReport | None = None
    lead_flow_anomalies: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sla_breached": self.sweep.breached,
            "auto_closed": self.sweep.auto_closed,
            "sent": self.dispatch.sent,
            "retried": self.dispatch.retried,
            "dead": self.dispatch.dead,
            "synced_status_changes": self.sync.status_changes if self.sync else [],
            "synced_comments": self.sync.comments if self.sync else 0,
            "notifications_sent": self.notified.sent,
            "notifications_retried": self.notified.retried,
            "notifications_dead": self.notified.dead,
            "escalated_incidents": self.escalation.escalated,
            "reminded_incidents": self.escalation.reminded,
            "platform_outage": self.self_check.action.value if self.self_check else None,
            "rollups": self.rollups.as_dict() if self.rollups else None,
            "retention": self.retention.as_dict() if self.retention else None,
            "lead_flow_anomalies": self.lead_flow_anomalies,
        }


def housekeep(
    engine: Engine,
    policy: Policy,
    now: datetime,
    *,
    sync: bool,
    rollup_retention: RollupRetention | None = None,
    retention: Retention | None = None,
) -> HousekeepingReport:
    """One pass. `retention` (the worker passes the settings') also runs the
    retention of raw results; without it, results are left alone."""
    # First: an outage it opens holds back partner incidents from the next batch on,
    # and its operators' message goes out with this pass's sends.
    checked = platform_outages.evaluate(engine, now)
    # Before the sends: an anomaly's incident and ticket go out with this pass.
    flow = judge_lead_flow(engine, policy, now)
    swept = sweep(engine, policy, now)
    escalated = escalate(engine, now)
    report = send_pending(engine, policy, now, sync=sync)
    report.sweep, report.escalation, report.self_check = swept, escalated, checked
    report.lead_flow_anomalies = flow
    report.rollups = roll_up_history(engine, now, rollup_retention)
    # Last: it takes short table locks, and nothing above waits for it. After the
    # rollups, and never past them: a raw result is dropped only once its hour is
    # rolled up, so uptime over a period outlives the results it was counted from.
    if retention is not None:
        report.retention = prune(engine, within_rollups(engine, retention, now), now)
    pruned = report.retention is not None and report.retention.changed
    sent = report.dispatch.sent or report.notified.sent
    if swept.breached or swept.auto_closed or sent or pruned:
        log.info("housekeeping: %s", report.as_dict())
    return report


def roll_up_history(
    engine: Engine, now: datetime, retention: RollupRetention | None
) -> RollupPass | None:
    """Rollups are derived data a later pass rewrites anyway: a failure is logged
    and must not stop this pass's tickets and messages."""
    try:
        return housekeep_rollups(engine, now, retention)
    except Exception:
        log.exception("housekeeping: the rollup pass failed; the next pass retries it")
        return None


def judge_lead_flow(engine: Engine, policy: Policy, now: datetime) -> list[str]:
    """The lead-flow judgement of this slot (alerts.lead_flow_watch); like the rollups,
    a failure is logged and must not stop this pass's tickets and messages."""
    try:
        verdicts = watch_lead_flow(engine, policy, now)
    except Exception:
        log.exception("housekeeping: the lead-flow judgement failed; the next pass retries it")
        return []
    return [verdict.integration_id for verdict in verdicts if verdict.anomalous]


def within_rollups(engine: Engine, retention: Retention, now: datetime) -> Retention:
    """The retention, held back to the last day the rollups reach: a raw result is
    dropped only once its hour is counted, so uptime outlives the results it came
    from (the pass still creates the partitions ahead)."""
    try:
        mark = watermark(engine)
    except Exception:
        log.exception("housekeeping: cannot read the rollup watermark; nothing is dropped")
        mark = None
    if mark is not None and mark >= retention.keep_from(now):
        return retention
    days = NEVER_DAYS if mark is None else (now.date() - mark.date()).days
    log.warning(
        "housekeeping: rollups reach %s, before the retention cut %s: raw results are "
        "kept until they catch up",
        mark.isoformat() if mark else "nothing",
        retention.keep_from(now).isoformat(),
    )
    return replace(retention, days=max(retention.days, days))


def send_pending(
    engine: Engine, policy: Policy, now: datetime, *, sync: bool = False
) -> HousekeepingReport:
    """Only the sending part: sink messages and notifications that are due. The
    worker runs this right after a batch changed incidents, so a ticket's e-mail
    does not wait for the next housekeeping tick."""
    sinks = mirror.open_sinks(engine)
    try:
        sent = mirror.dispatch(engine, sinks, policy, now) if sinks else DispatchReport()
        synced = mirror.sync_back(engine, sinks, policy, now) if sinks and sync else None
    finally:
        close_all(sinks)
    channels = open_channels(engine)
    try:
        notified = (
            deliver(engine, channels, now, base_url=policy.public_url)
            if channels
            else DispatchReport()
        )
    finally:
        close_all(channels)
    return HousekeepingReport(SweepReport(), sent, synced, notified=notified)


def open_channels(engine: Engine) -> dict[str, Channel]:
    """The notification channels as last applied (`channels:` in the file)."""
    document = documents.load(engine, documents.CHANNELS)
    return build_channels(ChannelsConfig.model_validate(document or {}))
