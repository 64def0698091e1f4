"""`flask notifications ...`: the outbox from the command line.

    flask notifications worker           # production (MAIL_DELIVERY=worker): send until SIGTERM
    flask notifications worker --once    # cron or tests: send what is due, then exit
    flask notifications retry            # send every pending message now, ignoring backoff
    flask notifications status           # count messages by status
"""

import signal
import threading
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..extensions import db
from . import service
from .models import OutboxMessage

cli = AppGroup("notifications", help="Outgoing mail (the outbox).")


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM and SIGINT set `stop` (the worker finishes the message it is sending, commits, exits)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, _frame):
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (for cron and tests).")
@click.option("--batch", "batch_size", default=50, show_default=True, help="Rows claimed per batch.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to sleep when nothing is due.")
def worker(once: bool, batch_size: int, interval: float):
    """Send outbox mail (MAIL_DELIVERY=worker): claim due rows, send, record, repeat."""
    stop = threading.Event()
    with _stop_on_signals(stop):
        sent, failed = service.run_worker(batch_size=batch_size, idle_seconds=interval, once=once, stop=stop,
                                          log=None if once else click.echo)
    click.echo(f"sent {sent}, failed {failed}" + ("" if once else " (stopped)"))


@cli.command("retry")
def retry():
    """Send every pending message again, now (ignores the backoff)."""
    sent, failed = service.retry_pending()
    click.echo(f"sent {sent}, still failing {failed}")


@cli.command("status")
def status():
    """Count outbox messages by status."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    for st, n in rows:
        click.echo(f"{st}: {n}")
