"""Commands that cron runs on every host: one run at a time across all of them.

Production runs `flask payments reconcile` and `flask orders expire` from cron on each web host,
so two runs may overlap. Without coordination both would read the same candidates and both would
work them (a payment requeried twice, its backoff doubled). `one_run_at_a_time` makes each such
command hold a PostgreSQL advisory lock named for it, on a connection of its own, for the whole
run: a second run that finds the lock taken says so and does nothing, and the lock dies with the
connection if the process does. The lock is per database schema, so two deployments (or two test
runs) sharing one PostgreSQL server never block each other.

SQLite is one file on one machine: there the lock is an exclusive `flock` on a file beside the
database (`<database>.<name>.lock`), which two processes on that machine cannot both hold.
(`flask notifications worker` needs no lock: it claims outbox rows with `FOR UPDATE SKIP LOCKED`,
so any number of workers share the work. The verifiers only read.)
"""

import fcntl
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from sqlalchemy import text

from .extensions import db


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the advisory lock `name` for the block: yields True when this run holds it, False when
    another run does (then do nothing)."""
    if db.engine.dialect.name == "sqlite":
        with _file_lock(db.engine.url.database, name) as held:
            yield held
        return
    conn = db.engine.connect()  # its own connection: the session's commits do not touch the lock
    keys = {"name": f"ebiz:{name}"}
    try:
        held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext(:name))"),
                                keys))
        conn.commit()  # a session-level lock outlives the transaction; do not sit idle in one
        try:
            yield held
        finally:
            if held:
                conn.scalar(text("SELECT pg_advisory_unlock(hashtext(current_schema()), hashtext(:name))"), keys)
                conn.commit()
    finally:
        conn.close()


@contextmanager
def _file_lock(database: str | None, name: str) -> Iterator[bool]:
    if database in (None, "", ":memory:"):  # a private in-memory database: no one else can run
        yield True
        return
    path = f"{database}.{name.replace(' ', '-')}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def one_run_at_a_time(name: str) -> Callable:
    """Decorate a click command's function (innermost): it runs only while holding the lock `name`."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with exclusive(name) as held:
                if not held:
                    click.echo(f"{name}: another run (on this or another host) is at work; nothing done.")
                    return None
                return fn(*args, **kwargs)

        return run

    return decorate
