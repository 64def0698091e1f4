"""Counting the SQL statements a page sends, to keep listing pages free of N+1 queries."""

from contextlib import contextmanager

from sqlalchemy import event

from ebiz.extensions import db


@contextmanager
def statements():
    """The SQL statements sent while the block runs (appended to the yielded list)."""
    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)


def page_statements(client, path: str) -> tuple[str, list[str]]:
    """GET `path` as a fresh request would (nothing cached in the session or in `g`):
    (the page's HTML, the statements it sent)."""
    db.session.remove()
    with statements() as seen:
        r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return r.get_data(as_text=True), seen
