"""The generic database helpers (ebiz/db.py), on both databases."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ebiz.db import LIKE_ESCAPE, backoff_seconds, begin_write, dialect_insert, insert_new, like_escape, lock_one
from ebiz.extensions import db
from ebiz.notifications.service import RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, backoff
from ebiz.sequences import DocumentSequence


def _names() -> list[str]:
    return list(db.session.scalars(select(DocumentSequence.name).order_by(DocumentSequence.name)))


def test_insert_new_returns_the_row_then_none_for_a_duplicate(app):
    made = insert_new(DocumentSequence, {"name": "DUP-1", "last_value": 7}, unique=["name"])
    assert isinstance(made, DocumentSequence) and (made.name, made.last_value) == ("DUP-1", 7)
    assert made in db.session and not db.session.dirty  # as if just loaded: nothing to flush
    assert insert_new(DocumentSequence, {"name": "DUP-1", "last_value": 99}, unique=["name"]) is None
    db.session.commit()
    assert db.session.scalar(select(DocumentSequence.last_value).where(DocumentSequence.name == "DUP-1")) == 7
    assert _names() == ["DUP-1"]  # the duplicate changed nothing and added nothing


def test_dialect_insert_knows_on_conflict(app):
    insert = dialect_insert()
    for value in (1, 2):
        db.session.execute(insert(DocumentSequence).values(name="ONE", last_value=value)
                           .on_conflict_do_nothing(index_elements=["name"]))
    db.session.commit()
    assert db.session.scalar(select(DocumentSequence.last_value).where(DocumentSequence.name == "ONE")) == 1


def test_like_escape_matches_percent_underscore_and_backslash_literally(app):
    for name in ("a%b", "a_b", "axb", "aXXb", "a\\b", "a\\xb"):
        db.session.add(DocumentSequence(name=name))
    db.session.commit()

    def like(fragment: str) -> list[str]:
        pattern = f"%{like_escape(fragment)}%"
        return list(db.session.scalars(select(DocumentSequence.name).where(
            DocumentSequence.name.like(pattern, escape=LIKE_ESCAPE)).order_by(DocumentSequence.name)))

    assert like("a%b") == ["a%b"]
    assert like("a_b") == ["a_b"]
    assert like("a\\b") == ["a\\b"]
    assert like("%") == ["a%b"] and like("_") == ["a_b"]
    assert like_escape("50%_off\\") == "50\\%\\_off\\\\"


def test_backoff_starts_at_base_doubles_and_caps():
    assert [backoff_seconds(n, 60, 3600) for n in range(0, 9)] == [60, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_seconds(50, 60, 3600) == 3600
    # The outbox's retries use it.
    assert backoff(1) == timedelta(seconds=RETRY_BASE_SECONDS)
    assert backoff(2) == timedelta(seconds=min(2 * RETRY_BASE_SECONDS, RETRY_MAX_SECONDS))
    assert backoff(100) == timedelta(seconds=RETRY_MAX_SECONDS)


def test_lock_one_rereads_the_row_and_answers_none_when_there_is_none(app):
    row = DocumentSequence(name="LOCK", last_value=1)
    db.session.add(row)
    db.session.commit()
    assert row.last_value == 1
    # The row changes behind the loaded object's back (no synchronising): the lock re-reads it.
    db.session.execute(update(DocumentSequence).where(DocumentSequence.name == "LOCK").values(last_value=5)
                       .execution_options(synchronize_session=False))
    assert row.last_value == 1
    locked = lock_one(select(DocumentSequence).where(DocumentSequence.name == "LOCK"))
    assert locked is row and row.last_value == 5
    assert lock_one(select(DocumentSequence).where(DocumentSequence.name == "NONE")) is None
    db.session.rollback()


def test_lock_one_holds_the_row_until_the_commit(app):
    db.session.add(DocumentSequence(name="HELD", last_value=1))
    db.session.commit()
    assert lock_one(select(DocumentSequence).where(DocumentSequence.name == "HELD")) is not None
    with Session(db.engine) as other:
        if db.engine.dialect.name == "postgresql":
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError):
                other.execute(select(DocumentSequence).where(DocumentSequence.name == "HELD").with_for_update())
        else:  # SQLite: the immediate transaction holds the database's write lock
            other.connection().exec_driver_sql("PRAGMA busy_timeout = 200")
            with pytest.raises(OperationalError, match="locked"):
                other.execute(update(DocumentSequence).where(DocumentSequence.name == "HELD")
                              .values(last_value=2))
                other.commit()
        other.rollback()
    db.session.commit()
    with Session(db.engine) as other:  # after the commit, the row is free again
        begin_write(other)
        other.execute(update(DocumentSequence).where(DocumentSequence.name == "HELD").values(last_value=2))
        other.commit()
    assert db.session.scalar(select(DocumentSequence.last_value).where(DocumentSequence.name == "HELD")) == 2
