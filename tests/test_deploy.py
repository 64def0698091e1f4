"""Ready to deploy: /healthz, the request id on every log line, the repo's gunicorn configuration."""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import TestingConfig
from ebiz import create_app, logs
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_checks_the_database_and_storage(app, client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json["status"] == "ok"
    assert r.json["checks"]["database"]["ok"] and r.json["checks"]["storage"]["ok"]
    assert r.headers["Cache-Control"] == "no-store"


def test_healthz_says_503_and_which_check_failed_when_storage_is_gone(app, client, tmp_path):
    app.config["STORAGE_DIR"] = str(tmp_path / "not-there")
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json["status"] == "unavailable"
    storage = r.json["checks"]["storage"]
    assert storage["ok"] is False and storage["error"] == "StorageError"  # the kind; details go to the log
    assert r.json["checks"]["database"]["ok"] is True


def test_healthz_says_503_when_the_database_does_not_answer(tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'no-such-dir' / 'ebiz.db'}"  # cannot be opened
        STORAGE_DIR = str(tmp_path)

    r = create_app(Config).test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["checks"]["database"]["ok"] is False and r.json["checks"]["storage"]["ok"] is True


def test_a_proxys_request_id_is_kept_only_when_it_is_a_plain_token(app, client):
    assert client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.9"}).headers["X-Request-Id"] == "lb-7f3a.9"
    for bad in ('a"b', "a b", "x" * 65, "a\tb"):
        echoed = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert echoed != bad and len(echoed) == 16  # one of our own instead
    first, second = (client.get("/healthz").headers["X-Request-Id"] for _ in range(2))
    assert first != second


@pytest.mark.parametrize("fmt", ["json", "keyvalue"])
def test_every_log_line_is_structured_and_names_its_request(fmt, tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'ebiz.db'}"
        STORAGE_DIR = str(tmp_path / "missing")  # /healthz logs a warning
        LOG_FORMAT = fmt

    stream = io.StringIO()
    app = create_app(Config)
    logs.configure(app, stream=stream)
    try:
        rid = app.test_client().get("/healthz", headers={"X-Request-Id": "req-42"}).headers["X-Request-Id"]
        logging.getLogger("ebiz.orders").warning('outside a request: "quoted"\nsecond line')
    finally:
        app.config["LOG_FORMAT"] = "text"
        logs.configure(app)  # as every other test expects the "ebiz" logger
    lines = stream.getvalue().splitlines()
    assert rid == "req-42" and len(lines) == 2  # one record, one line, even with a newline in it
    if fmt == "json":
        first, second = map(json.loads, lines)
        assert first["request_id"] == "req-42" and "storage" in first["msg"] and first["level"] == "warning"
        assert second["request_id"] == "-" and second["msg"] == 'outside a request: "quoted"\nsecond line'
    else:
        assert "request_id=req-42" in lines[0] and "level=warning" in lines[0]
        assert "request_id=- " in lines[1] and r'msg="outside a request: \"quoted\"\nsecond line"' in lines[1]
    assert logging.getLogger("ebiz").propagate is True


def test_gunicorn_serves_with_the_repos_config_and_logs_the_request_id(tmp_path):
    """The README's production command, on loopback: gthread workers, the access log line carries the
    request id, and the application's log line (JSON: production's default) the same id."""
    port = free_port()
    env = dict(os.environ, EBIZ_ENV="production", SECRET_KEY="s" * 32, EBIZ_ALLOW_SANDBOX_GATEWAY="1",
               DATABASE_URL=f"sqlite:///{tmp_path / 'ebiz.db'}", STORAGE_DIR=str(tmp_path / "missing"),
               GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_THREADS="2",
               RATELIMIT_STORAGE_URI="memory://", PYTHONDONTWRITEBYTECODE="1")
    env.pop("LOG_FORMAT", None)  # production's default
    log = tmp_path / "gunicorn.log"
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with open(log, "wb") as out:
        proc = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = None
        deadline = time.monotonic() + 30
        while status is None and time.monotonic() < deadline:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-Id": "gw-1"})
            try:
                urllib.request.urlopen(request, timeout=5)
                status = 200
            except urllib.error.HTTPError as exc:
                status, body = exc.code, json.loads(exc.read())
            except OSError:
                time.sleep(0.2)
        assert status == 503 and body["checks"]["storage"]["ok"] is False, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "gthread" in text  # the config file's worker class
    access = [ln for ln in text.splitlines() if "request_id=gw-1" in ln]
    assert access and 'path="/healthz" status=503' in access[0], text
    app_lines = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
    assert any(r["request_id"] == "gw-1" and "storage" in r["msg"] for r in app_lines), text


def test_make_run_says_it_is_a_development_server():
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nrun:", 1)[1].split("\n\n", 1)[0]
    said = [line for line in recipe.splitlines() if line.strip().startswith("@echo")]
    serve = next(i for i, line in enumerate(recipe.splitlines()) if "run --debug" in line)
    assert any("DEVELOPMENT server" in line for line in said) and any("gunicorn.conf.py" in line for line in said)
    assert all(recipe.splitlines().index(line) < serve for line in said)  # said before the server starts


def test_the_readmes_production_command_uses_the_repos_gunicorn_config():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    production = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in production.splitlines() if line.strip().startswith("gunicorn ")]
    assert commands == ["gunicorn -c gunicorn.conf.py wsgi:app              # behind nginx (TLS, buffering, sendfile)"]
    assert "/healthz" in production and "LOG_FORMAT" in production
