"""Browser tests: the app served on loopback, driven by Playwright and the system Chromium.

- `live_server`: the app (TestingConfig, on each test database in turn: SQLite,
  then PostgreSQL) served by werkzeug in a daemon thread on 127.0.0.1:<free
  port>, once per database.
  Every test starts from an empty database (all tables wiped) and fresh rate
  limits. The object has `.url` (base URL) and `.app` (for setting up data in
  `with live_server.app.app_context():`).
- `page`: a Playwright page in a fresh browser context per test (no cookies
  shared between tests). On failure a screenshot goes to test-results/.
- Chromium missing or Playwright unable to start: the tests are skipped with
  the reason (a failure under EBIZ_REQUIRE_SERVICES=1).

Mark browser tests `@pytest.mark.e2e`. Use `live_server.url + "/path"`.
"""

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from config import TestingConfig
from ebiz import create_app
from ebiz.extensions import db, limiter
from tests.services import free_port, require_service, wipe

CHROMIUM = os.environ.get("EBIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-dev-shm-usage"]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def _live_server(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        STORAGE_DIR = str(tmp / "storage")
        PUBLIC_BASE_URL = "http://127.0.0.1"

    app = create_app(Config)
    with app.app_context():
        db.create_all()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(_live_server):
    """The running app, with an empty database and fresh rate limits for this test."""
    wipe(_live_server.app)
    with _live_server.app.app_context():
        limiter.reset()
    return _live_server


@pytest.fixture(scope="session")
def _browser():
    if not Path(CHROMIUM).exists():
        require_service("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        require_service("Chromium", f"Playwright is not installed: {exc}")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001  (any launch failure means "unavailable")
        pw.stop()
        require_service("Chromium", f"Playwright could not start {CHROMIUM}: {exc}".splitlines()[0])
    yield browser
    browser.close()
    pw.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(_browser, request):
    """A page in a fresh browser context (own cookies); a screenshot is saved when the test fails."""
    context = _browser.new_context(locale="ms-MY", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        RESULTS.mkdir(exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
        with contextlib.suppress(Exception):  # a failed screenshot must not hide the test failure
            pg.screenshot(path=str(RESULTS / f"{safe}.png"), full_page=True)
    context.close()
