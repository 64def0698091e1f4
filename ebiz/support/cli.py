"""`flask support ...` commands (cron): escalate SLA breaches, purge old data, receive mail."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from ..db import begin_write
from ..extensions import db
from . import help as helpdesk
from . import service
from .mailin import SupportSMTPHandler

cli = AppGroup("support", help="Support desk commands.")


@cli.command("escalate")
def escalate():
    """Flag tickets past their SLA, hand them to another agent and mail the team lead; close
    resolved tickets past the reopen window. Safe on two hosts at once (SKIP LOCKED claims)."""
    begin_write()
    refs = service.escalate()
    db.session.commit()
    for ref in refs:
        click.echo(f"escalated {ref}")
    click.echo(f"{len(refs)} ticket(s) escalated.")


@cli.command("purge")
def purge():
    """Destroy identity documents past SUPPORT_IDENTITY_RETENTION_DAYS and the content of tickets
    closed more than SUPPORT_TICKET_RETENTION_DAYS ago (records stay, marked purged)."""
    begin_write()
    docs, tickets = service.purge()
    db.session.commit()
    click.echo(f"{docs} identity document(s) and {tickets} ticket(s) purged.")


@cli.command("mail-in")
@click.option("--host", default=None, help="Address to listen on (SUPPORT_INBOUND_HOST).")
@click.option("--port", default=None, type=int, help="Port to listen on (SUPPORT_INBOUND_PORT).")
def mail_in(host, port):
    """Run the inbound SMTP service: mail to SUPPORT_ADDRESS becomes tickets and replies.
    Put it behind the MX (or a relay) for the support address; stop it with Ctrl-C or SIGTERM."""
    from aiosmtpd.controller import Controller  # a service dependency only this command needs

    app = current_app._get_current_object()
    host = host or app.config["SUPPORT_INBOUND_HOST"]
    port = port or app.config["SUPPORT_INBOUND_PORT"]
    controller = Controller(SupportSMTPHandler(app), hostname=host, port=port)
    controller.start()
    click.echo(f"support mail-in listening on {host}:{port} for {app.config['SUPPORT_ADDRESS']}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@cli.command("seed-help")
def seed_help():
    """Add the built-in help-centre articles that are missing (staff edits are kept)."""
    n = helpdesk.seed_articles()
    db.session.commit()
    click.echo(f"{n} help article(s) added.")
