"""`flask applications ...` commands (run daily from cron; each is idempotent)."""

import click
from flask.cli import AppGroup

from ..extensions import db
from . import service

cli = AppGroup("applications", help="Restricted-data and remit applications.")


@cli.command("remind")
def remind():
    """Email reviewers the applications close to (APPLICATIONS_REMIND_WITHIN working days) or past due."""
    refs = service.remind()
    db.session.commit()
    click.echo(f"{len(refs)} application(s) close to or past due" + (f": {', '.join(refs)}" if refs else "."))


@cli.command("expire")
def expire():
    """Approvals past their validity become expired; their access to restricted products ends."""
    refs = service.expire_due()
    db.session.commit()
    click.echo(f"{len(refs)} approval(s) expired.")


@cli.command("purge")
def purge():
    """Remove the documents of applications decided longer ago than APPLICATIONS_DOCUMENT_RETENTION_DAYS."""
    refs = service.purge_documents()
    db.session.commit()
    click.echo(f"documents removed from {len(refs)} application(s).")
