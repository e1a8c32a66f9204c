"""web users: people who log in to the web console, passwords as salted scrypt hashes

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('support', 'client')", name=op.f('ck_web_users_role')),
    sa.CheckConstraint("role != 'client' OR client IS NOT NULL", name=op.f('ck_web_users_client_role_has_client')),
    sa.CheckConstraint("role != 'support' OR client IS NULL", name=op.f('ck_web_users_support_role_has_no_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_users')),
    sa.UniqueConstraint('username', name=op.f('uq_web_users_username'))
    )


def downgrade() -> None:
    op.drop_table('web_users')
