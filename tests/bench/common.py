"""The benchmark harness shared by every `make bench` module.

`python -m tests.bench.run` (what `make bench` runs) builds one `Context`:
a bench database of its own (a PostgreSQL schema on the local server, or a
SQLite file under a temporary directory when PostgreSQL is absent; never the
dev database), eBiz under gunicorn (`wsgi:app`) and the floor
(/work/shared/perf/floor_app.py) under gunicorn with the SAME worker class,
worker count and threads, each on a loopback port. Then it runs the bench
modules in order and prints their BENCH lines LAST, in the fixed order of
/work/shared/perf/README.md.

Interface of a bench module (tests/bench/<name>.py):

    def run(ctx: Context) -> list[str]:
        '''Measure, print progress freely, return BENCH lines (use `bench_line`).'''

What a module gets from `ctx`:
- `ctx.ebiz_url`, `ctx.floor_url`: base URLs (no trailing slash) of the
  running servers; `ctx.ebiz_db_url` / `ctx.floor_db_url` their databases;
  `ctx.is_postgres`; `ctx.tmp` (a pathlib.Path scratch dir); `ctx.env` the
  environment eBiz runs with (SECRET_KEY, DATABASE_URL, STORAGE_DIR, ...).
- `ctx.ebiz_app()`: a Flask app bound to the bench database (for seeding
  users, wallets, files through eBiz's own services; push its app context).
- `ctx.compare(url_a, url_b, script=None, conns=8, seconds=5, rounds=3)`:
  runs /work/shared/perf/compare.sh (alternating rounds, median req/s) and
  returns `Compared(ratio, a_rps, b_rps, output)`; `script` is a wrk Lua
  file (for POST: /work/shared/perf/post.lua, or your own).
- `ctx.download(url, conns=4, seconds=10)`: runs dl_client.py, returns its
  JSON dict (`value` is MiB/s).
- `ctx.start_ebiz(env_overrides, name)` -> `Server` (url, pid, stop()):
  another eBiz under the same gunicorn settings (e.g. on another database).
- `ctx.start_ceiling(module, health_path)` -> `Server`: a ceiling app of tests/bench
  (link_bound, spend_bound) on the floor's database, same gunicorn settings.
- `bench_line(name, ratio, target, extra)` formats one BENCH line;
  `failed_line(name, target, why)` one for a benchmark that could not run.

Settings (environment): BENCH_WORKERS (default 4), BENCH_WORKER_CLASS (sync),
BENCH_THREADS (1), BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNS (8), BENCH_WARMUP (1 s
of wrk on each URL before the rounds),
BENCH_DB=postgres|sqlite (default: postgres when the server answers),
BENCH_PG_URL (default the local server's `test` database).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PERF = Path(os.environ.get("BENCH_PERF_DIR", "/work/shared/perf"))
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "8"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))  # seconds of wrk on each URL before compare's rounds
# The User-Agent the load generator sends (wrk scripts set it): a signed-in bench session is
# bound to it and to 127.0.0.1, as Flask-Login binds a real sign-in to its browser.
BENCH_USER_AGENT = "ebiz-bench"

ORDER = ["catalog_list", "catalog_search", "catalog_scale", "wallet_spend", "link_issue", "download_local"]


def bench_line(name: str, ratio: float, target: str, extra: str = "") -> str:
    return f"BENCH {name:<16} ratio={ratio:.2f} target{target}  {extra}".rstrip()


def failed_line(name: str, target: str, why: str) -> str:
    return f"BENCH {name:<16} ratio=n/a target{target}  FAILED: {why}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    last: Exception | None = None
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback only)
                if r.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


def pg_available() -> bool:
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(PG_URL)
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001 (any failure means "not available")
        return False


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Compared:
    ratio: float
    a_rps: float
    b_rps: float
    output: str


def gunicorn_cmd(app_spec: str, port: int) -> list[str]:
    return [GUNICORN, "-w", str(WORKERS), "-k", WORKER_CLASS, "--threads", str(THREADS),
            "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec]


def start_gunicorn(name: str, app_spec: str, env: dict, cwd: Path, log_dir: Path,
                   health_path: str = "/") -> Server:
    port = free_port()
    log = log_dir / f"{name}.log"
    fh = open(log, "wb")  # noqa: SIM115 (the server keeps it open)
    proc = subprocess.Popen(gunicorn_cmd(app_spec, port), cwd=str(cwd), env=env, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    server = Server(name, url, proc, log)
    try:
        wait_http(url + health_path)
    except RuntimeError:
        server.stop()
        raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}") from None
    return server


def signed_in_cookie(app, user_id: int) -> str:
    """The session cookie value a real sign-in leaves for the bench client (127.0.0.1, BENCH_USER_AGENT).

    As accounts' `_complete_login` does: a fresh permanent session, `login_user` (user id with its
    session version, fresh, Flask-Login's identifier of this client), plus the CSRF token the
    pages put in it. Built directly (no password hashing), signed with the app's key; the
    requests must send `User-Agent: BENCH_USER_AGENT` from 127.0.0.1 to match it.
    """
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from ebiz.accounts.models import User
    from ebiz.extensions import db
    from ebiz.sessions import STAMP

    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": BENCH_USER_AGENT}):
        session.clear()
        session.permanent = True
        login_user(db.session.get(User, user_id))
        generate_csrf()
        session[STAMP] = int(time.time())  # as SteppedRefreshSessionInterface stamps the cookie it sends
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        db.session.remove()
    return value


def process_tree_rss_mb(pid: int) -> float:
    """Resident memory (MiB) of a process and all its descendants, from /proc."""
    total = 0
    pids = [pid]
    seen = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids += [int(c) for c in children]
        except OSError:
            continue
    return total / 1024


def worker_pids(master_pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Context:
    tmp: Path
    is_postgres: bool
    ebiz_db_url: str
    floor_db_url: str
    env: dict
    servers: list[Server] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    ebiz: Server | None = None
    floor: Server | None = None

    @property
    def ebiz_url(self) -> str:
        return self.ebiz.url

    @property
    def floor_url(self) -> str:
        return self.floor.url

    # -- databases ---------------------------------------------------------
    def new_db_url(self, name: str) -> str:
        """A fresh, empty database for this run: a PostgreSQL schema or a SQLite file."""
        if not self.is_postgres:
            return f"sqlite:///{self.tmp / (name + '.db')}"
        from sqlalchemy import create_engine, text

        schema = f"bench_{name}_{secrets.token_hex(3)}"
        eng = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng.dispose()
        self.schemas.append(schema)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    def ebiz_app(self, db_url: str | None = None):
        """A Flask app (production config) bound to a bench database."""
        from config import ProductionConfig
        from ebiz import create_app

        env = self.env

        class BenchConfig(ProductionConfig):
            SECRET_KEY = env["SECRET_KEY"]
            SQLALCHEMY_DATABASE_URI = db_url or self.ebiz_db_url
            STORAGE_DIR = env["STORAGE_DIR"]
            RATELIMIT_ENABLED = False
            SESSION_COOKIE_SECURE = False
            REMEMBER_COOKIE_SECURE = False
            ALLOW_SANDBOX_GATEWAY = env.get("EBIZ_ALLOW_SANDBOX_GATEWAY") == "1"

        return create_app(BenchConfig)

    # -- servers -------------------------------------------------------------
    def ebiz_env(self, **overrides) -> dict:
        env = dict(self.env)
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    def start_ebiz(self, overrides: dict | None = None, name: str = "ebiz") -> Server:
        env = self.ebiz_env(**(overrides or {}))
        server = start_gunicorn(name, "wsgi:app", env, ROOT, self.tmp, "/healthz")
        self.servers.append(server)
        return server

    def start_floor(self) -> Server:
        env = dict(os.environ, FLOOR_DATABASE_URL=self.floor_db_url,
                   FLOOR_FILE=str(self.tmp / "floor.bin"), PYTHONDONTWRITEBYTECODE="1")
        server = start_gunicorn("floor", "floor_app:app", env, PERF, self.tmp, "/hello")
        self.servers.append(server)
        return server

    def start_ceiling(self, module: str, health_path: str) -> Server:
        """A ceiling app of tests/bench (`link_bound`, `spend_bound`) on the floor's database, under the
        same gunicorn settings: the least an endpoint doing eBiz's essential writes can cost."""
        env = dict(os.environ, FLOOR_DATABASE_URL=self.floor_db_url, PYTHONDONTWRITEBYTECODE="1")
        server = start_gunicorn(module, f"tests.bench.{module}:app", env, ROOT, self.tmp, health_path)
        self.servers.append(server)
        return server

    def init_floor(self) -> None:
        env = dict(os.environ, FLOOR_DATABASE_URL=self.floor_db_url, FLOOR_FILE=str(self.tmp / "floor.bin"),
                   PYTHONDONTWRITEBYTECODE="1")
        subprocess.run([PYTHON, "floor_app.py", "init"], cwd=str(PERF), env=env, check=True)

    # -- measuring -------------------------------------------------------------
    def compare(self, url_a: str, url_b: str, script: str | None = None, conns: int = CONNS,
                seconds: int = SECONDS, rounds: int = ROUNDS, warmup: int = WARMUP) -> Compared:
        # Warm-up, the same for both: every worker of each server has compiled its templates,
        # loaded its translations and opened its database connection before anything counts.
        for url in (url_a, url_b) if warmup else ():
            subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{warmup}s", *(["-s", script] if script else []), url],
                           capture_output=True, check=True)
        cmd = [str(PERF / "compare.sh"), "-c", str(conns), "-d", str(seconds), "-n", str(rounds)]
        if script:
            cmd += ["-s", script]
        out = subprocess.run(cmd + [url_a, url_b], capture_output=True, text=True, check=True).stdout
        print(out, end="", flush=True)
        m = re.search(r"ratio A/B: ([\d.]+) \(A median ([\d.]+) req/s, B median ([\d.]+) req/s\)", out)
        if not m:
            raise RuntimeError(f"compare.sh printed no ratio:\n{out}")
        return Compared(float(m.group(1)), float(m.group(2)), float(m.group(3)), out)

    def download(self, url: str, conns: int = 4, seconds: float = 10) -> dict:
        out = subprocess.run([PYTHON, str(PERF / "dl_client.py"), "dl", url, "--conns", str(conns),
                              "--seconds", str(seconds)], capture_output=True, text=True, check=True).stdout
        print(out.strip(), flush=True)
        return json.loads(out.strip().splitlines()[-1])

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        if self.schemas:
            from sqlalchemy import create_engine, text

            eng = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with eng.connect() as c:
                for schema in self.schemas:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            eng.dispose()
        if not os.environ.get("BENCH_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def make_context() -> Context:
    want = os.environ.get("BENCH_DB")
    is_pg = pg_available() if want in (None, "", "postgres", "postgresql") else False
    if want in ("postgres", "postgresql") and not is_pg:
        raise SystemExit(f"BENCH_DB=postgres but {PG_URL} does not answer")
    tmp = Path(tempfile.mkdtemp(prefix="ebiz-bench-"))
    (tmp / "storage").mkdir()
    env = dict(os.environ)
    env.update(EBIZ_ENV="production", SECRET_KEY="bench-" + secrets.token_hex(16), STORAGE_DIR=str(tmp / "storage"),
               STORAGE_BACKEND="local", RATELIMIT_ENABLED="0", SESSION_COOKIE_SECURE="0",
               RATELIMIT_STORAGE_URI="memory://", MAIL_SERVER="", PYTHONDONTWRITEBYTECODE="1",
               DOWNLOAD_LINK_MAX_AGE="3600", EBIZ_ALLOW_SANDBOX_GATEWAY="1")
    ctx = Context(tmp=tmp, is_postgres=is_pg, ebiz_db_url="", floor_db_url="", env=env)
    ctx.ebiz_db_url = ctx.new_db_url("ebiz")
    ctx.floor_db_url = ctx.new_db_url("floor")
    ctx.env["DATABASE_URL"] = ctx.ebiz_db_url
    return ctx
