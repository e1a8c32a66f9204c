"""lead ledger: the delivery queue, the append-only attempt ledger, dispatch leases, change notices

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('leads',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.String(length=128), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('broker_lead_id', sa.String(length=128), nullable=True),
    sa.Column('last_outcome', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_leads_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('integration_id', 'lead_id', name=op.f('uq_leads_integration_id'))
    )
    op.create_index('ix_leads_integration_state_next', 'leads', ['integration_id', 'state', 'next_attempt_at'], unique=False)
    op.create_index('ix_leads_state_next', 'leads', ['state', 'next_attempt_at'], unique=False)
    op.create_table('lead_attempts',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.String(length=128), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('check_outcome', sa.String(length=32), nullable=True),
    sa.Column('http_status', sa.SmallInteger(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('broker_lead_id', sa.String(length=128), nullable=True),
    sa.Column('request', sa.JSON(), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_attempts')),
    sa.UniqueConstraint('integration_id', 'lead_id', 'attempt', 'outcome', name=op.f('uq_lead_attempts_integration_id'))
    )
    op.create_index('ix_lead_attempts_integration_at', 'lead_attempts', ['integration_id', 'at'], unique=False)
    op.create_table('lead_dispatch',
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=32), nullable=True),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('integration_id', name=op.f('pk_lead_dispatch'))
    )
    op.create_table('change_notices',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('breaking', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_change_notices_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_notices')),
    sa.UniqueConstraint('integration_id', 'name', name=op.f('uq_change_notices_integration_id'))
    )


def downgrade() -> None:
    op.drop_table('change_notices')
    op.drop_table('lead_dispatch')
    op.drop_index('ix_lead_attempts_integration_at', table_name='lead_attempts')
    op.drop_table('lead_attempts')
    op.drop_index('ix_leads_state_next', table_name='leads')
    op.drop_index('ix_leads_integration_state_next', table_name='leads')
    op.drop_table('leads')
