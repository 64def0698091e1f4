"""audit events append-only in PostgreSQL too (a trigger refuses UPDATE and DELETE)

Revision ID: 2d7b4e9a1c36
Revises: 8e3f1a6c2b57
Create Date: 2026-12-02 17:00:00

"""
from alembic import op

from ebiz.audit import guards

revision = '2d7b4e9a1c36'
down_revision = '8e3f1a6c2b57'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in guards.INSTALL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in guards.UNINSTALL:
            op.execute(statement)
