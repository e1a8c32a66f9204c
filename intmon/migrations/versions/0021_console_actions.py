"""console actions: the audit trail of what support did at the web console

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_actions'))
    )
    with op.batch_alter_table('console_actions', schema=None) as batch_op:
        batch_op.create_index('ix_console_actions_integration_at', ['integration_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_console_actions_integration_at')
    op.drop_table('console_actions')
