"""The ledger's invariants kept by PostgreSQL itself, below the ORM (raw SQL cannot break them).

- `ledger_entry` and `ledger_posting` are append-only: UPDATE and DELETE raise.
- Every posting's entries sum to zero: a deferred constraint trigger checks it at COMMIT,
  once the whole posting has been written.

Installed by the migration that introduced them and, for databases built by
`db.create_all()` (the tests), by an `after_create` hook on `ledger_entry` in models.py.
Changing this text changes the schema: add a migration that installs the new version.
(No "%" in these statements: SQLAlchemy's DDL would read it as a format.)
SQLite keeps the ORM's guard only (models.py), since the tests empty its tables with DELETE.
"""

INSTALL = [
    """CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = 'ledger rows are append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END $$""",
    """CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COALESCE(SUM(amount_sen), 0) FROM ledger_entry WHERE posting_id = NEW.posting_id) <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = 'ledger posting ' || NEW.posting_id || ' does not sum to zero';
    END IF;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()""",
    """CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()""",
    """CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()""",
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting",
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
    "DROP FUNCTION IF EXISTS ledger_check_balanced()",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
]
