"""`flask support ...` commands (cron): escalate SLA breaches, purge old data, receive mail."""

import click
from flask.cli import AppGroup

from ..extensions import begin_write, db
from . import service

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
