"""check_rollups and rollup_watermarks: hourly and daily sums of check results

Per (integration, check, hour or day, outcome): counts, counts in maintenance and
held back by a platform outage, the sum of durations and a latency histogram with
the buckets of intmon_check_duration_seconds (one count column per bucket).
Existing installations fill them on the next housekeeping passes (48 hours per
pass) or at once with `intmon rollups rebuild`.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

LATENCY_COLUMNS = (
    "latency_le_50ms",
    "latency_le_100ms",
    "latency_le_250ms",
    "latency_le_500ms",
    "latency_le_1000ms",
    "latency_le_2500ms",
    "latency_le_5000ms",
    "latency_over_last",
)


def upgrade() -> None:
    op.create_table(
        "check_rollups",
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("integration_id", sa.String(length=64), nullable=False),
        sa.Column("check_name", sa.String(length=64), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("maintenance", sa.Integer(), nullable=False),
        sa.Column("inhibited", sa.Integer(), nullable=False),
        sa.Column("duration_sum_s", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in LATENCY_COLUMNS),
        sa.PrimaryKeyConstraint(
            "grain",
            "integration_id",
            "check_name",
            "bucket_start",
            "outcome",
            name=op.f("pk_check_rollups"),
        ),
    )
    with op.batch_alter_table("check_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_check_rollups_grain_bucket", ["grain", "bucket_start"], unique=False
        )
    op.create_table(
        "rollup_watermarks",
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("rolled_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("grain", name=op.f("pk_rollup_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("rollup_watermarks")
    with op.batch_alter_table("check_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_check_rollups_grain_bucket")
    op.drop_table("check_rollups")
