"""check skips: why a check's due run was skipped (budget, in flight), for stale checks

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('check_skips',
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('check_name', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('skipped_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('integration_id', 'check_name', name=op.f('pk_check_skips'))
    )


def downgrade() -> None:
    op.drop_table('check_skips')
