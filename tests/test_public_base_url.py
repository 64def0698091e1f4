"""Links in mail and QR codes follow the port `make run PORT=...` serves on, unless PUBLIC_BASE_URL
is set (issue 11 §4). No database: these read the configuration only."""

import os
import subprocess
import sys
from pathlib import Path

import config

ROOT = Path(__file__).resolve().parent.parent
PRINT_BASE = f"{sys.executable} -c 'import config; print(config.Config.PUBLIC_BASE_URL)'"


def test_the_base_url_follows_flask_run_host_and_port(monkeypatch):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("FLASK_RUN_PORT", "5311")
    monkeypatch.delenv("FLASK_RUN_HOST", raising=False)
    assert config._dev_base_url() == "http://127.0.0.1:5311"
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")  # noqa: S104  (what `flask run --host 0.0.0.0` sets)
    assert config._dev_base_url() == "http://127.0.0.1:5311"  # "every interface" is no address for a link
    monkeypatch.setenv("FLASK_RUN_HOST", "::1")
    assert config._dev_base_url() == "http://[::1]:5311"
    monkeypatch.delenv("FLASK_RUN_HOST")
    monkeypatch.delenv("FLASK_RUN_PORT")
    assert config._dev_base_url() == "http://127.0.0.1:5000"


def _make_run(env_extra: dict) -> list[str]:
    """`make run PORT=5311` with FLASK standing in for `flask --app wsgi`: each of its commands
    prints the PUBLIC_BASE_URL the app would use."""
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_BASE_URL", "FLASK_RUN_PORT", "FLASK_RUN_HOST")}
    env.update(env_extra)
    venv = Path(sys.executable).parent.parent
    out = subprocess.run(["make", "-s", "run", "PORT=5311", f"VENV={venv}", f"FLASK={PRINT_BASE}"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [word for word in out.stdout.split() if "://" in word]  # make run also says what it is


def test_make_run_on_another_port_writes_that_port_into_links():
    assert _make_run({}) == ["http://127.0.0.1:5311"] * 3  # db upgrade, seed-demo and run alike


def test_a_set_public_base_url_wins():
    assert _make_run({"PUBLIC_BASE_URL": "https://ebiz.example.my"}) == ["https://ebiz.example.my"] * 3
