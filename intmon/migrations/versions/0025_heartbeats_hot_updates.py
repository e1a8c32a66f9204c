"""heartbeats: room on each page for HOT updates, no index on the column a ping moves

Every success ping rewrites its heartbeat's row (`last_ping_at`, `next_due_at`,
`alert_at`), thousands a second under load. An UPDATE that changes no indexed
column and finds room on the row's page is HOT (heap-only): no new index entries,
and the old version is pruned on the page without waiting for vacuum. The
`alert_at` index made every ping a full update (4 index entries, index bloat,
autovacuum of all of them); the detector now scans the table instead, which at
10,000 heartbeats costs about as much as the index probe did (bench/pings.py).
`fillfactor` leaves the room on each page for the new versions (PostgreSQL only;
SQLite has no such setting). Existing pages keep their packing until the table
is rewritten (VACUUM FULL); new and pruned ones get the room.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

FILLFACTOR = 70


def upgrade() -> None:
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeats_alert_at')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE heartbeats SET (fillfactor = {FILLFACTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE heartbeats RESET (fillfactor)')
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeats_alert_at', ['alert_at'], unique=False)
