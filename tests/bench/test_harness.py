"""Smoke test of the benchmark harness pieces (no timing, no servers): the BENCH line format,
the bulk catalogue seed, and the pages the benchmarks request."""

import re

from config import TestingConfig
from ebiz import create_app
from ebiz.extensions import db
from tests.bench.catalog import LIST_PATH, SCALE_PATH, SEARCH_PATH, seed_catalogue
from tests.bench.common import ORDER, bench_line, failed_line


def test_bench_line_format():
    line = bench_line("catalog_list", 0.4712, ">=0.4", "ebiz=401.2/s floor=853.6/s")
    assert line == "BENCH catalog_list     ratio=0.47 target>=0.4  ebiz=401.2/s floor=853.6/s"
    assert re.match(r"BENCH \S+ +ratio=n/a target<=1.5  FAILED: x", failed_line("catalog_scale", "<=1.5", "x"))
    assert ORDER[0] == "catalog_list" and ORDER[-1] == "download_local"


def test_seed_and_pages(tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'bench.db'}"
        STORAGE_DIR = str(tmp_path / "storage")

    app = create_app(Config)
    with app.app_context():
        db.create_all()
    seed_catalogue(app, 2000)
    client = app.test_client()
    for path, expect in ((LIST_PATH, b"product-card"), (SEARCH_PATH, b"Aerial imagery Kuching"),
                         (SCALE_PATH, b"product-card")):
        r = client.get(path)
        assert r.status_code == 200 and expect in r.data, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_link_ceiling_records_each_link_and_redirects(tmp_path, monkeypatch):
    from sqlalchemy import create_engine, text

    from tests.bench import link_bound

    url = f"sqlite:///{tmp_path / 'floor.db'}"
    link_bound.create_table(url)
    monkeypatch.setattr(link_bound, "engine", create_engine(url, isolation_level="AUTOCOMMIT"))
    r = link_bound.app.test_client().get("/link?id=7")
    assert r.status_code == 302 and r.headers["Location"].startswith("/d/")
    with link_bound.engine.connect() as c:
        assert c.execute(text(f"SELECT file_id FROM {link_bound.TABLE}")).scalars().all() == [7]
    link_bound.engine.dispose()


def test_the_spend_ceiling_pays_with_every_record_or_not_at_all(tmp_path, monkeypatch):
    from sqlalchemy import create_engine, text

    from tests.bench import spend_bound

    url = f"sqlite:///{tmp_path / 'floor.db'}"
    eng = create_engine(url)
    with eng.begin() as c:  # the floor's wallet, as floor_app.py init makes it
        c.execute(text("CREATE TABLE wallet (id INTEGER PRIMARY KEY, balance_sen BIGINT NOT NULL)"))
        c.execute(text("INSERT INTO wallet (id, balance_sen) VALUES (1, 1)"))
    spend_bound.create_tables(url)
    monkeypatch.setattr(spend_bound, "engine", eng)
    client = spend_bound.app.test_client()
    assert client.post("/spend").json == {"ok": True, "receipt": 1}
    assert client.post("/spend").status_code == 409  # the wallet is empty: nothing of that one stays
    with eng.connect() as c:
        counts = [c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("bound_order", "bound_entry")]
        assert counts == [1, 2] and c.execute(text("SELECT balance_sen FROM wallet")).scalar() == 0
    eng.dispose()


def test_the_stack_ceiling_pays_through_ebiz_sign_in_or_not_at_all(tmp_path):
    from sqlalchemy import create_engine, text

    from tests.bench import spend_bound, stack_bound
    from tests.factories import csrf_from, login_session, make_user

    url = f"sqlite:///{tmp_path / 'ebiz.db'}"

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        STORAGE_DIR = str(tmp_path / "storage")

    app = stack_bound.create(Config)
    spend_bound.create_tables(url, wallet_sen=1)
    with app.app_context():
        db.create_all()
        primary = make_user(tier="primary")
        regular = make_user()
        db.session.commit()
        client = app.test_client()
        token = {"csrf_token": csrf_from(client.get("/account/login").data)}
        assert client.post("/bound/spend", data=token).status_code == 302  # not signed in: to the sign-in page
        login_session(client, regular)
        assert client.post("/bound/spend").status_code == 400  # no CSRF token
        assert client.post("/bound/spend", data=token).status_code == 403  # no wallet without Primary
        login_session(client, primary)
        assert client.post("/bound/spend", data=token).headers["Location"] == "/"
        assert client.post("/bound/spend", data=token).status_code == 409  # the wallet is empty: nothing stays
        db.session.remove()
    eng = create_engine(url)
    with eng.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM bound_order")).scalar() == 1
        assert c.execute(text("SELECT balance_sen FROM bound_wallet")).scalar() == 0
    eng.dispose()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_bench_server_runs_the_repos_gunicorn_config():
    """The production settings (gunicorn.conf.py) under load, the same for eBiz and the floor; only the
    worker counts, the access log and worker recycling are the bench's own."""
    from tests.bench.common import GUNICORN_CONF, GUNICORN_ENV, ROOT, gunicorn_cmd

    cmd = gunicorn_cmd("wsgi:app", 8123)
    assert cmd[1:3] == ["-c", str(GUNICORN_CONF)] and GUNICORN_CONF == ROOT / "gunicorn.conf.py"
    assert GUNICORN_CONF.is_file() and cmd[cmd.index("--max-requests") + 1] == "0"
    assert GUNICORN_ENV == {"GUNICORN_ACCESS_LOG": ""}


def test_legacy_import_bench_line(tmp_path):
    """The legacy_import module (issue 15) measures a real import and says so in its BENCH line."""
    from tests.bench.legacy_import import measure

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'bench.db'}"

    app = create_app(Config)
    with app.app_context():
        db.create_all()
    line = measure(app, tmp_path, 50)
    assert re.match(r"BENCH legacy_import +rows_per_s=\d+ target>=1000  rows=\d+ .* ok$", line), line
    with app.app_context():
        db.engine.dispose()
