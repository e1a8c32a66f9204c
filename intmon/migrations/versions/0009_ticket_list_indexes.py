"""ticket list indexes: keyset pages of the ticket queue, alone or filtered

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ACTIVE_TICKET = "status IN ('open', 'in_progress', 'waiting_for_reply')"
INDEXES = {
    'ix_tickets_created': ['created_at', 'id'],
    'ix_tickets_status_created': ['status', 'created_at', 'id'],
    'ix_tickets_client_created': ['client', 'created_at', 'id'],
    'ix_tickets_integration_created': ['integration_id', 'created_at', 'id'],
}


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(
            'ix_tickets_active_due',
            ['first_response_due_at', 'created_at', 'id'],
            unique=False,
            postgresql_where=sa.text(ACTIVE_TICKET),
            sqlite_where=sa.text(ACTIVE_TICKET),
        )
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for name in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_index('ix_tickets_active_due')
