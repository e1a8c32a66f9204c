"""notification throttle: one message per recipient and channel per digest window

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_throttle',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'address', name=op.f('pk_notification_throttle'))
    )


def downgrade() -> None:
    op.drop_table('notification_throttle')
