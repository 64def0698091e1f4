"""`flask licensing ...` commands."""

import click
from flask.cli import AppGroup

from ..errors import EbizError
from ..extensions import db
from . import service

cli = AppGroup("licensing", help="Licensing commands.")


@cli.command("list")
def list_licences():
    """Show each licence type in licenses/ with its version and the SHA-256 customers accept."""
    for lic in service.list_licences():
        click.echo(f"{lic.key:24} v{lic.version:6} {lic.sha256}  {lic.title_en}")


@cli.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why the licence is revoked (audited).")
def revoke(number: str, reason: str):
    """Revoke licence NUMBER (for example after a breach); /verify shows it as revoked."""
    grant = service.grant_by_number(number)
    if grant is None:
        raise click.ClickException(f"no licence {number}")
    try:
        service.revoke(grant, actor=None, reason=reason)
    except EbizError as exc:
        raise click.ClickException(str(exc.message)) from None
    db.session.commit()
    click.echo(f"revoked {grant.number}")
