"""check_state.family_since: when the current failure family's streak began

An incident's first_seen is where its own failure began, not where the check's
failing streak of any kind began (a maintenance outage, other failures before it).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('check_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family_since', sa.DateTime(timezone=True), nullable=True))
    # The best an existing row can say: its failing streak began no later than `since`.
    op.execute("UPDATE check_state SET family_since = since WHERE family IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('check_state', schema=None) as batch_op:
        batch_op.drop_column('family_since')
