"""The ceiling of any recorded link, for link_issue: the floor's /link (token + 302) plus ONE
autocommitted INSERT, with no session, no checks and no joins, under the same gunicorn settings.

eBiz records every link it issues durably (who, what, when, from where), so no eBiz link can be
cheaper than this; `make bench` measures it beside the floor in the same run to show how much of
the floor's rate any such endpoint can reach on this machine. Run as
`gunicorn tests.bench.link_bound:app` with FLOOR_DATABASE_URL set (the floor's database).
"""

import os

from flask import Flask, redirect, request
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text

TABLE = "bench_link_record"


def create_table(url: str) -> None:
    """The record table, in the floor's database (run once, before the servers start)."""
    eng = create_engine(url)
    key = "INTEGER PRIMARY KEY" if eng.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with eng.begin() as c:
        c.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, file_id INTEGER NOT NULL)"))
    eng.dispose()


engine = create_engine(os.environ.get("FLOOR_DATABASE_URL", "sqlite://"), isolation_level="AUTOCOMMIT")
signer = URLSafeTimedSerializer("floor-secret", salt="download")
app = Flask(__name__)


@app.get("/link")
def link():
    file_id = request.args.get("id", 1, type=int)
    with engine.connect() as c:
        c.execute(text(f"INSERT INTO {TABLE} (file_id) VALUES (:f)"), {"f": file_id})  # noqa: S608 (a constant)
    return redirect(f"/d/{signer.dumps({'u': 1, 'f': file_id})}", code=302)
