"""Production refuses the sandbox gateway unless EBIZ_ALLOW_SANDBOX_GATEWAY=1 (staging)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ProductionConfig
from ebiz import create_app
from ebiz.extensions import db, limiter

ROOT = Path(__file__).resolve().parents[2]


def _production(tmp_path, **attrs):
    return type("Config", (ProductionConfig,), {
        "SECRET_KEY": "prod-test-secret", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
        "RATELIMIT_STORAGE_URI": "memory://", "PAYMENT_GATEWAY": "sandbox", **attrs})


def test_production_refuses_the_sandbox_gateway_and_names_the_setting(tmp_path):
    with pytest.raises(RuntimeError, match="EBIZ_ALLOW_SANDBOX_GATEWAY=1"):
        create_app(_production(tmp_path, ALLOW_SANDBOX_GATEWAY=False))
    assert not (tmp_path / "prod.db").exists()  # refused before anything was opened


def test_production_with_the_setting_starts_and_mounts_the_sandbox(tmp_path):
    saved = (limiter._storage, limiter._limiter, limiter._key_prefix)
    app = create_app(_production(tmp_path, ALLOW_SANDBOX_GATEWAY=True))
    try:
        assert "sandbox_gateway" in app.blueprints
    finally:
        with app.app_context():
            db.engine.dispose()
        limiter._storage, limiter._limiter, limiter._key_prefix = saved


def test_development_and_testing_keep_the_sandbox(app):
    assert app.config["ALLOW_SANDBOX_GATEWAY"] is True


def _start_production(tmp_path, allow: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EBIZ_ALLOW_SANDBOX_GATEWAY"}
    env.update(EBIZ_ENV="production", SECRET_KEY="prod-test-secret", PAYMENT_GATEWAY="sandbox",
               DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}", RATELIMIT_STORAGE_URI="memory://",
               PYTHONDONTWRITEBYTECODE="1")
    if allow is not None:
        env["EBIZ_ALLOW_SANDBOX_GATEWAY"] = allow
    return subprocess.run([sys.executable, "-c", "from ebiz import create_app; create_app(); print('started')"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_environment_variable_decides_in_a_real_start(tmp_path):
    refused = _start_production(tmp_path, None)
    assert refused.returncode != 0 and "EBIZ_ALLOW_SANDBOX_GATEWAY=1" in refused.stderr
    assert "started" not in refused.stdout
    assert _start_production(tmp_path, "0").returncode != 0
    allowed = _start_production(tmp_path, "1")
    assert allowed.returncode == 0 and "started" in allowed.stdout, allowed.stderr[-2000:]
