"""platform_outages, and the inhibited flag on check results and check state

A platform outage is a span when intmon's own network or resolver failed; the
connectivity failures of partners meanwhile are kept but marked `inhibited`
(they open no incident and neither extend nor break a streak).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_table('platform_outages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('clear_streak', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_outages'))
    )
    with op.batch_alter_table('platform_outages', schema=None) as batch_op:
        batch_op.create_index('ix_platform_outages_started', ['started_at'], unique=False)
        batch_op.create_index('uq_platform_outages_open', ['state'], unique=True, postgresql_where=OPEN, sqlite_where=OPEN)
    # A constant default: PostgreSQL adds the column without rewriting the big table.
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inhibited', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('check_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inhibited', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('check_state', schema=None) as batch_op:
        batch_op.drop_column('inhibited')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_column('inhibited')
    with op.batch_alter_table('platform_outages', schema=None) as batch_op:
        batch_op.drop_index('uq_platform_outages_open', postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_index('ix_platform_outages_started')
    op.drop_table('platform_outages')
