"""Generic database helpers: the one copy of each, on the foundations (issue 12 §1).

No domain lives here; every domain uses these instead of writing its own. What each guarantees:

- `begin_write(session)`: on SQLite, the session's transaction starts IMMEDIATE (it takes the
  database's write lock up front and waits its turn, busy_timeout, instead of failing with
  "database is locked" when a transaction that read upgrades to writing). On PostgreSQL it does
  nothing (rows are locked with SELECT ... FOR UPDATE). It does nothing once the transaction began.
- `lock_one(query)`: the one row the query selects (or None), re-read from the database
  (`populate_existing`) and locked until the commit: FOR UPDATE on PostgreSQL, the immediate
  write transaction on SQLite (which serialises every writer). Lock one row per call, and when a
  transaction needs several, take them in primary-key order, so that two transactions never wait
  on each other in a circle.
- `dialect_insert(session)`: the dialect's own `insert` construct (PostgreSQL or SQLite), the one
  that knows `ON CONFLICT ... DO NOTHING`; chosen at run time from the session's database.
- `insert_new(model, values, unique=...)`: `INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING *`
  as an ORM object, or None when a row with that unique key exists already. A concurrent twin
  waits on the unique index, then gets None: exactly one of them makes the row.
- `like_escape(text)` with `LIKE_ESCAPE`: `text` for a LIKE/ILIKE pattern in which `%`, `_` and
  the escape character itself match literally (pass `escape=LIKE_ESCAPE` to `like`).
- `backoff_seconds(attempts, base, cap)`: the wait after `attempts` failed tries: `base`, then
  doubling with each further failure, never more than `cap`.
"""

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from .extensions import db

LIKE_ESCAPE = "\\"

_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def _session(session: Session | None) -> Session:
    return db.session() if session is None else session


def begin_write(session: Session | None = None) -> None:
    """Start `session`'s (by default the request's) transaction as a write transaction: IMMEDIATE
    on SQLite, nothing on PostgreSQL; nothing when the transaction already began."""
    s = _session(session)
    if s.get_bind().dialect.name != "sqlite" or s.in_transaction():
        return
    s.connection(execution_options={"sqlite_immediate": True})


def lock_one(query, *, of=None, session: Session | None = None):
    """The one row `query` selects (None when there is none), re-read and locked until the commit:
    FOR UPDATE (OF `of`, when given) on PostgreSQL, the immediate write transaction on SQLite."""
    s = _session(session)
    begin_write(s)
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=of)
    return s.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def dialect_insert(session: Session | None = None, *, model=None):
    """The `insert` construct of the session's database (it knows ON CONFLICT DO NOTHING)."""
    dialect = _session(session).get_bind(mapper=model).dialect.name
    try:
        return _INSERTS[dialect]
    except KeyError:  # pragma: no cover (eBiz runs on PostgreSQL and SQLite)
        raise RuntimeError(f"unsupported database {dialect}") from None


def insert_new(model, values: dict, *, unique: list[str]):
    """`INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING *` as an ORM object; None when a
    row with that unique key exists already. One statement where SELECT-then-INSERT in a
    savepoint took four; a concurrent twin waits on the unique index, then sees the winner."""
    insert = dialect_insert(model=model)
    # A Core statement plus a detached object costs about half of the ORM's bulk-insert path.
    table = model.__table__
    row = db.session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
                             .returning(*table.c)).one_or_none()
    if row is None:
        return None
    obj = model(**{attr.key: row._mapping[attr.columns[0]] for attr in sa_inspect(model).column_attrs})
    make_transient_to_detached(obj)  # as if just loaded: every column known, nothing to flush
    db.session.add(obj)
    return obj


def like_escape(text: str) -> str:
    """`text` for a LIKE pattern: `%`, `_` and the escape character match literally
    (use with `escape=LIKE_ESCAPE`)."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def backoff_seconds(attempts: int, base: int, cap: int) -> int:
    """The wait after `attempts` failed tries: `base` after the first (and before any), doubling
    with each further failure, at most `cap`."""
    return min(base * 2 ** max(attempts - 1, 0), cap)
