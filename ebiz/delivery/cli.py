"""`flask delivery ...` commands."""

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..extensions import db
from .models import ProductFile
from .service import verify_files

cli = AppGroup("delivery", help="Delivery commands: storage checks.")


@cli.command("verify")
def verify():
    """Check every recorded file exists in storage with its recorded size and SHA-256."""
    total = db.session.scalar(select(func.count()).select_from(ProductFile))
    problems = verify_files()
    for line in problems:
        click.echo(f"PROBLEM {line}", err=True)
    click.echo(f"{total} files checked, {len(problems)} problems")
    if problems:
        raise SystemExit(1)
