"""`/healthz`: may this process serve? The database answers and the file storage is reachable.

For the load balancer and the deploy script: JSON, 200 when every check passes, 503 when one
fails (the failing check is named, its error class given; the details go to the log, not to
whoever asks). Each check is bounded: the database query has a 2-second statement timeout on
PostgreSQL, and the connection pool's own timeout bounds the wait for a connection.
No sign-in, no session, no rate limit: it must answer while the limiter's store is down too.
"""

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .delivery.storage import get_storage
from .extensions import db, limiter

bp = Blueprint("health", __name__)


def _database() -> None:
    with db.engine.connect() as conn:  # not the request's session: nothing to commit or roll back there
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 2000")  # this transaction only
        conn.execute(text("SELECT 1")).one()


def _storage() -> None:
    get_storage().check()


CHECKS = {"database": _database, "storage": _storage}


@bp.get("/healthz")
@limiter.exempt
def healthz():
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 (any failure is "not healthy", reported by kind)
            current_app.logger.warning("health check %s failed: %r", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(r["ok"] for r in results.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=results)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
