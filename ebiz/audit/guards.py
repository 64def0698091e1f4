"""The audit trail kept append-only by PostgreSQL itself, below the ORM: UPDATE and DELETE on
`audit_event` raise, whoever sends them (raw SQL, a console, a bug).

Installed by the migration that introduced it and, for databases built by `db.create_all()`
(the tests), by an `after_create` hook in models.py. Changing this text changes the schema:
add a migration that installs the new version. SQLite keeps the ORM's guard only.
"""

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
