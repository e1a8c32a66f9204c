"""learned response contracts per check, and the contract diff on incidents

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('check_contracts',
    sa.Column('integration_id', sa.String(length=64), nullable=False),
    sa.Column('check_name', sa.String(length=64), nullable=False),
    sa.Column('shape', sa.JSON(), nullable=False),
    sa.Column('shape_hash', sa.String(length=64), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('learned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_check_contracts_integration_id_integrations')),
    sa.PrimaryKeyConstraint('integration_id', 'check_name', name=op.f('pk_check_contracts'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_diff', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('contract_diff')
    op.drop_table('check_contracts')
