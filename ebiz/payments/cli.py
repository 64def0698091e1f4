"""`flask payments ...` commands."""

import time

import click
from flask.cli import AppGroup

from ..audit.service import record
from ..cron import one_run_at_a_time
from ..extensions import db
from . import refunds, service

cli = AppGroup("payments", help="Payments commands.")


@cli.command("reconcile")
@click.option("--limit", default=500, show_default=True, help="Most intents to requery in this run.")
@one_run_at_a_time("payments reconcile")
def reconcile(limit: int):
    """Requery pending payments older than RECONCILE_MIN_AGE_SECONDS and settle them.

    Each intent still pending is requeried again later with exponential backoff (capped at
    an hour) until RECONCILE_GIVE_UP_SECONDS (at least the banks' own 3-hour authorisation
    timeout); then it expires (a later callback still credits it). Run it from cron every
    few minutes. Prints a report of what changed.
    """
    started = time.monotonic()
    lines = []
    for intent_id in service.reconcile_candidates(limit=limit):
        try:
            line = service.reconcile_one(intent_id)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 (one bad intent must not stop the run; it is reported)
            db.session.rollback()
            click.echo(f"! intent {intent_id}: {type(exc).__name__}: {exc}", err=True)
            continue
        lines.append(line)
    for reference in refunds.unsent():  # approved gateway refunds the gateway did not answer: send again
        try:
            outcome = refunds.issue(reference)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 (reported; the next run tries again)
            db.session.rollback()
            click.echo(f"! refund {reference}: {type(exc).__name__}: {exc}", err=True)
            continue
        click.echo(f"  refund {reference}: {outcome}")
    fixed = [ln for ln in lines if ln.fixed]
    if lines:
        record("payments.reconciled", requeried=len(lines),
               fixed=[f"{ln.reference}: {ln.before} -> {ln.after}" for ln in fixed][:200])
        db.session.commit()
    click.echo(f"Reconciliation report: {len(lines)} requeried, {len(fixed)} changed "
               f"({time.monotonic() - started:.1f}s)")
    for ln in lines:
        mark = "FIXED" if ln.fixed else "     "
        click.echo(f"  {mark} {ln.reference}  {ln.before:>9} -> {ln.after:<9} {ln.outcome:<11} {ln.note}")
