"""The audit trail cannot be rewritten: the ORM refuses, and on PostgreSQL so does the database."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ebiz.audit.models import AppendOnlyError, AuditEvent
from ebiz.audit.service import record
from ebiz.extensions import db


def _one_event():
    record("test.event", target_type="Thing", target_id=1, note="kept")
    db.session.commit()
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == "test.event"))


def test_the_orm_refuses_to_change_or_delete_an_event(app):
    event = _one_event()
    event.action = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "test.event"


@pytest.mark.postgres_only("the database-level guard is PostgreSQL's (SQLite keeps the ORM's)")
def test_postgresql_refuses_raw_sql_that_would_rewrite_the_trail(app):
    event = _one_event()
    for statement in ("UPDATE audit_event SET action = 'test.rewritten'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "test.event"
