"""Helpers for tests that need a real service or a database of their own (not fixtures: any test
module may import these). A missing service skips its tests with the reason, or fails them when
EBIZ_REQUIRE_SERVICES=1.
"""

import os
import secrets
import socket
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from ebiz.extensions import db

REQUIRE_SERVICES = os.environ.get("EBIZ_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require_service(name: str, reason: str):
    """Skip (or fail, when services are required) because `name` is missing."""
    message = f"{name} unavailable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (EBIZ_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_pg_schema(prefix: str = "t"):
    """A URL for a new, empty PostgreSQL schema of its own, dropped afterwards (or skip/fail)."""
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001  (any failure to connect means "unavailable")
        require_service("PostgreSQL", f"{PG_URL}: {type(exc).__name__}: {exc}".splitlines()[0])
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def wipe(app):
    """Empty every table: a clean database for the next test."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                names = ", ".join(f'"{t}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))
