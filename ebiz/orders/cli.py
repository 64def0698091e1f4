"""`flask orders ...` commands."""

import click
from flask.cli import AppGroup

from ..cron import one_run_at_a_time
from ..extensions import db
from . import service

cli = AppGroup("orders", help="Orders commands.")


@cli.command("expire")
@click.option("--limit", default=500, show_default=True, help="Most orders to expire in this run.")
@one_run_at_a_time("orders expire")
def expire(limit: int):
    """Expire unpaid orders older than ORDER_TTL_SECONDS: release their seats and stock.

    Each order is expired in its own transaction (a credit note cancels its invoice). Paid
    orders whose training sessions have ended become fulfilled. Run it from cron every few
    minutes; a payment that arrives for an expired order goes back to the customer's wallet
    (or onto the staff refund queue).
    """
    expired = []
    candidates = service.expire_candidates(limit=limit)
    db.session.rollback()  # end the read: each order gets its own write transaction below
    for order_id in candidates:
        try:
            ref = service.expire_one(order_id)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 (one bad order must not stop the run; it is reported)
            db.session.rollback()
            click.echo(f"! order {order_id}: {type(exc).__name__}: {exc}", err=True)
            continue
        if ref:
            expired.append(ref)
            click.echo(f"expired {ref}")
    fulfilled = 0
    candidates = service.fulfil_candidates()
    db.session.rollback()
    for order_id in candidates:
        fulfilled += service.fulfil_one(order_id)
        db.session.commit()
    click.echo(f"{len(expired)} order(s) expired, {fulfilled} training order(s) fulfilled.")
