"""close reason length: a reason given when closing a ticket holds up to 2,048 characters

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column(
            'close_reason', type_=sa.String(2048), existing_type=sa.String(32), existing_nullable=True
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE tickets SET close_reason = left(close_reason, 32)")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column(
            'close_reason', type_=sa.String(32), existing_type=sa.String(2048), existing_nullable=True
        )
