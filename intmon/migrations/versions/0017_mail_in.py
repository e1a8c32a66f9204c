"""mail in: a ticket's reply token, and how a history entry came in (`via`)

Replies by e-mail become comments (`intmon mail-in`): the token in a reply's
address proves it answers a mail about that ticket, and the history records
that the comment came by e-mail.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_token', sa.String(length=32), nullable=True))
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.drop_column('via')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('reply_token')
