"""audit events append-only in PostgreSQL too (a trigger refuses UPDATE and DELETE)

Revision ID: 2d7b4e9a1c36
Revises: 8e3f1a6c2b57
Create Date: 2026-12-02 17:00:00

"""
from alembic import op


revision = '2d7b4e9a1c36'
down_revision = '8e3f1a6c2b57'
branch_labels = None
depends_on = None

# Frozen copy of ebiz/audit/guards.py as this revision installed it: a revision is history and never
# imports live code (a later change to the guards comes with its own revision).
INSTALL = [
    """CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = 'audit events are append-only: ' || TG_OP || ' refused';
END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()""",
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in INSTALL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in UNINSTALL:
            op.execute(statement)
