"""ticket_comments.message: what a system comment says, as a catalogue key and values

The monitor's own comments on a ticket ("the failure is back", "recovered",
"closed for want of a reply") are written in English in `body`, for the API, the
CLI and the sinks; `message` holds the same news as a key and its values, so the
web console says it in the reader's language. NULL for people's comments and
for system comments written before this revision (they show their body).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.drop_column('message')
