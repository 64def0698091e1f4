"""Fixtures shared by every test.

The suite runs on SQLite and again on PostgreSQL (TEST_DATABASE_URL, default
the local server's `test` database). Each run gets its own PostgreSQL schema,
so two runs on one machine never meet. Helpers for tests that need a real
service (loopback ports, a private schema, require_service) are in
tests/services.py: test modules import helpers, never another test module.
"""

import contextvars
import socket

import pytest
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient

from config import TestingConfig
from ebiz import create_app
from ebiz.extensions import db
from tests.services import private_pg_schema, wipe


def pytest_runtest_setup(item):
    """`@pytest.mark.postgres_only("why")`: the test's SQLite run is skipped, with the reason, before
    any fixture is built."""
    marker = item.get_closest_marker("postgres_only")
    if marker is None:
        return
    if "database_url" not in item.fixturenames:
        pytest.fail(f"{item.nodeid}: postgres_only on a test that uses no database", pytrace=False)
    if item.callspec.params.get("database_url") == "sqlite":
        pytest.skip("PostgreSQL only: " + (marker.args[0] if marker.args else "needs PostgreSQL"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """The database each test runs on: a SQLite file, then a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    with private_pg_schema() as url:
        yield url


class OwnContextClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as in production.

    The `app` fixture keeps an app context open for the test's own code (factories, queries).
    Flask would reuse it for a test-client request, sharing `g` (the signed-in user, the CSRF
    token, the locale) and the scoped database session between the test and every client. Here
    each request starts from an empty context instead, so Flask pushes a fresh app context:
    nothing carries over from the test or from another client's request.

    The test's session commits first: what the test set up is visible to the request (another
    session cannot see uncommitted rows, and on SQLite would wait for the write lock), and the
    test's objects are expired, so it reads what the request changed.
    """

    def open(self, *args, **kwargs):
        if self.preserve_context:
            raise RuntimeError("`with client:` is not supported here: assert on the response or the database")
        if has_app_context() and "sqlalchemy" in current_app.extensions:
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


Flask.test_client_class = OwnContextClient  # every app the tests build, whichever fixture built it


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        STORAGE_DIR = str(tmp_path_factory.mktemp("storage"))

    app = create_app(Config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(_app):
    """The app with a clean database, an app context pushed, and its settings as they were before."""
    wipe(_app)
    _app.config.update(RATELIMIT_ENABLED=True)
    from ebiz.extensions import limiter

    limiter.reset()
    saved = dict(_app.config)  # a test that changes a setting changes it for itself only
    try:
        with _app.app_context():
            yield _app
            db.session.rollback()
            db.session.remove()
    finally:
        _app.config.clear()
        _app.config.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def is_postgres(app) -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture(autouse=True)
def _no_outbound_network(monkeypatch):
    """Tests talk only to loopback: any other connection is an error."""
    real = socket.socket.connect

    def guarded(self, address):
        if isinstance(address, tuple) and address and isinstance(address[0], str):
            host = address[0]
            if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
                raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def sandbox_db(app, tmp_path):
    """The in-process sandbox gateway keeps its books in a fresh file for each test."""
    from ebiz.payments.sandbox import store

    old = dict(app.config)
    app.config.update(SANDBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'sandbox.db'}", SANDBOX_GATEWAY_URL="",
                      SANDBOX_CALLBACK_DELAY_SECONDS=0, PAYMENT_GATEWAY="sandbox")
    yield
    store.dispose_all()
    for k in ("SANDBOX_DATABASE_URL", "SANDBOX_GATEWAY_URL", "SANDBOX_CALLBACK_DELAY_SECONDS", "PAYMENT_GATEWAY"):
        app.config[k] = old[k]
