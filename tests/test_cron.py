"""`integrations.cron.cron_problem`: the one rule behind heartbeat schedules, cron
maintenance windows and the console's window form."""

from __future__ import annotations

import pytest

from integrations.cron import cron_problem


@pytest.mark.parametrize(
    ("value", "aliases", "problem"),
    [
        ("0 2 * * sun", False, None),
        ("*/5 * * * *", False, None),
        ("0 2 * *", False, "malformed"),  # four fields
        ("0 2 * * * *", False, "malformed"),  # six
        ("61 * * * *", False, "malformed"),
        ("@daily", False, "malformed"),  # heartbeats take five fields only
        ("@daily", True, None),  # maintenance windows take the aliases too
        ("@sometimes", True, "malformed"),
        ("0 0 30 2 *", False, "never_fires"),  # 30 February
        ("0 0 30 2 *", True, "never_fires"),
    ],
)
def test_cron_problem(value: str, aliases: bool, problem: str | None) -> None:
    assert cron_problem(value, aliases=aliases) == problem
