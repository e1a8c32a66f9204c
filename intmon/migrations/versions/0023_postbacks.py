"""postbacks: brokers' events about the leads they took (postback monitors)

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('postbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('broker_lead_id', sa.String(length=128), nullable=False),
    sa.Column('lead_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_postbacks_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postbacks')),
    sa.UniqueConstraint('integration_id', 'event_id', name=op.f('uq_postbacks_integration_id'))
    )
    with op.batch_alter_table('postbacks', schema=None) as batch_op:
        batch_op.create_index('ix_postbacks_integration_broker_lead', ['integration_id', 'broker_lead_id'], unique=False)
        batch_op.create_index('ix_postbacks_integration_received', ['integration_id', 'received_at'], unique=False)
    # A postback finds its lead in the ledger by the broker's id.
    with op.batch_alter_table('lead_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_lead_attempts_integration_broker_lead', ['integration_id', 'broker_lead_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lead_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_attempts_integration_broker_lead')
    with op.batch_alter_table('postbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_postbacks_integration_received')
        batch_op.drop_index('ix_postbacks_integration_broker_lead')
    op.drop_table('postbacks')
