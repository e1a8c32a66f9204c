"""check_results partitioned by day on PostgreSQL (retention drops whole days)

PostgreSQL: `check_results` becomes `PARTITION BY RANGE (started_at)` with one
partition per UTC day (`check_results_pYYYYMMDD`, created ahead by the
housekeeping pass, `integrations.retention`) and a DEFAULT partition, so a row
whose day has no partition yet still lands somewhere and never fails its batch.
A partitioned table's primary key must hold the partition key: it becomes
(id, started_at). `id` keeps its sequence, so ids keep increasing.

Existing rows are kept without copying them: the old table is renamed to
`check_results_legacy` and attached as one partition covering everything up to
the end of the day of its newest row (or of today). Its CHECK constraint is
added first so ATTACH need not scan it again; the one thing built on it is the
(id, started_at) index the new primary key needs. The retention pass drops it
as a whole once its last day is older than the retention. An empty old table is
simply replaced.

SQLite keeps an ordinary table (retention deletes there in small batches).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

DAY = timedelta(days=1)
# The migration creates today's partition and this many days ahead; from then on
# the housekeeping pass keeps `results_partitions_ahead_days` ahead.
AHEAD_DAYS = 3


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _literal(moment: datetime) -> str:
    return f"'{moment.isoformat()}'"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    newest = bind.execute(sa.text('SELECT max(started_at) FROM check_results')).scalar()
    op.execute('ALTER TABLE check_results RENAME TO check_results_legacy')
    op.execute('ALTER TABLE check_results_legacy RENAME CONSTRAINT pk_check_results TO pk_check_results_legacy')
    op.execute('ALTER INDEX ix_check_results_integration_check_started RENAME TO ix_check_results_legacy_integration_check_started')
    op.execute('ALTER INDEX ix_check_results_started_at RENAME TO ix_check_results_legacy_started_at')
    # The same columns, NOT NULLs and defaults (id's nextval on the same sequence).
    op.execute(
        'CREATE TABLE check_results (LIKE check_results_legacy INCLUDING DEFAULTS) '
        'PARTITION BY RANGE (started_at)'
    )
    # Owned by the new column: dropping the legacy partition must not drop it.
    op.execute('ALTER SEQUENCE check_results_id_seq OWNED BY check_results.id')
    op.execute('ALTER TABLE check_results_legacy ALTER COLUMN id DROP DEFAULT')
    op.execute('ALTER TABLE check_results ADD CONSTRAINT pk_check_results PRIMARY KEY (id, started_at)')
    op.execute(
        'ALTER TABLE check_results ADD CONSTRAINT fk_check_results_integration_id_integrations '
        'FOREIGN KEY (integration_id) REFERENCES integrations (id)'
    )
    op.execute('CREATE INDEX ix_check_results_integration_check_started ON check_results (integration_id, check_name, started_at)')
    op.execute('CREATE INDEX ix_check_results_started_at ON check_results (started_at)')
    op.execute('CREATE TABLE check_results_default PARTITION OF check_results DEFAULT')

    today = _day(datetime.now(UTC))
    first_day = today
    if newest is None:
        op.execute('DROP TABLE check_results_legacy')
    else:
        first_day = max(today, _day(newest)) + DAY
        op.execute(
            'ALTER TABLE check_results_legacy ADD CONSTRAINT ck_check_results_legacy_range '
            f'CHECK (started_at < {_literal(first_day)})'
        )
        op.execute('ALTER TABLE check_results_legacy DROP CONSTRAINT pk_check_results_legacy')
        op.execute('CREATE UNIQUE INDEX pk_check_results_legacy ON check_results_legacy (id, started_at)')
        op.execute(
            'ALTER TABLE check_results_legacy ADD CONSTRAINT pk_check_results_legacy '
            'PRIMARY KEY USING INDEX pk_check_results_legacy'
        )
        # Its indexes match the parent's and are attached, not rebuilt.
        op.execute(
            'ALTER TABLE check_results ATTACH PARTITION check_results_legacy '
            f'FOR VALUES FROM (MINVALUE) TO ({_literal(first_day)})'
        )
    day = first_day
    while day <= today + AHEAD_DAYS * DAY:
        op.execute(
            f"CREATE TABLE check_results_p{day:%Y%m%d} PARTITION OF check_results "
            f'FOR VALUES FROM ({_literal(day)}) TO ({_literal(day + DAY)})'
        )
        day += DAY


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute('CREATE TABLE check_results_plain (LIKE check_results INCLUDING DEFAULTS)')
    op.execute('INSERT INTO check_results_plain SELECT * FROM check_results ORDER BY id')
    op.execute('ALTER SEQUENCE check_results_id_seq OWNED BY NONE')
    op.execute('DROP TABLE check_results')  # and every partition
    op.execute('ALTER TABLE check_results_plain RENAME TO check_results')
    op.execute('ALTER SEQUENCE check_results_id_seq OWNED BY check_results.id')
    op.execute('ALTER TABLE check_results ADD CONSTRAINT pk_check_results PRIMARY KEY (id)')
    op.execute(
        'ALTER TABLE check_results ADD CONSTRAINT fk_check_results_integration_id_integrations '
        'FOREIGN KEY (integration_id) REFERENCES integrations (id)'
    )
    op.execute('CREATE INDEX ix_check_results_integration_check_started ON check_results (integration_id, check_name, started_at)')
    op.execute('CREATE INDEX ix_check_results_started_at ON check_results (started_at)')
