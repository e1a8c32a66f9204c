"""e2e runs: end-to-end scenario run history and the postbacks runs wait for

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('e2e_runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('scenario', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('callbacks', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'passed', 'failed', 'error')", name=op.f('ck_e2e_runs_status')),
    sa.CheckConstraint("trigger IN ('cli', 'api', 'schedule')", name=op.f('ck_e2e_runs_trigger')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_e2e_runs_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e2e_runs'))
    )
    with op.batch_alter_table('e2e_runs', schema=None) as batch_op:
        batch_op.create_index('ix_e2e_runs_integration_created', ['integration_id', 'created_at'], unique=False)

    op.create_table('e2e_callbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['e2e_runs.id'], name=op.f('fk_e2e_callbacks_run_id_e2e_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e2e_callbacks')),
    sa.UniqueConstraint('run_id', 'name', name=op.f('uq_e2e_callbacks_run_id'))
    )


def downgrade() -> None:
    op.drop_table('e2e_callbacks')
    with op.batch_alter_table('e2e_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_e2e_runs_integration_created')

    op.drop_table('e2e_runs')
