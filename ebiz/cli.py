"""`flask ebiz ...`: commands that span domains (demo data)."""

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import demo
from .accounts.demo import ADMIN_EMAIL
from .accounts.models import User
from .extensions import db
from .notifications.models import OutboxMessage

ebiz_cli = AppGroup("ebiz", help="eBiz: demo data and whole-store commands.")


@ebiz_cli.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even when the database already has users.")
def seed_demo(force: bool):
    """Load demo data into an empty database and print the staff sign-ins once."""
    if db.session.scalar(select(func.count()).select_from(User)) and not force:
        click.echo("Database already has data: demo seed skipped (use --force to add anyway).")
        return
    if db.session.scalar(select(User.id).where(User.email == ADMIN_EMAIL)) is not None:
        click.echo("The demo data is already in this database: nothing added.")
        return
    # The demo's own emails (receipts, invoices) stay in the outbox instead of flooding the console.
    mode = current_app.config["MAIL_DELIVERY"]
    current_app.config["MAIL_DELIVERY"] = "worker"
    try:
        lines = demo.seed_all()
        db.session.commit()
    finally:
        current_app.config["MAIL_DELIVERY"] = mode
    queued = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    lines.append(f"\n{queued} demo emails wait in the outbox: `flask --app wsgi notifications retry` sends them.")
    click.echo("\n".join(lines))


@ebiz_cli.command("i18n-sync")
def i18n_sync():
    """Extract every string, update both catalogues, and fill English with its source text."""
    root = Path(__file__).resolve().parent.parent
    pot = root / "translations" / "messages.pot"
    CommandLineInterface().run(["pybabel", "extract", "-F", str(root / "babel.cfg"), "-k", "_l", "-k",
                                "lazy_gettext", "--no-location", "-o", str(pot), str(root)])
    CommandLineInterface().run(["pybabel", "update", "-i", str(pot), "-d", str(root / "translations"),
                                "--no-fuzzy-matching", "--ignore-obsolete"])
    en = root / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with open(en, "rb") as f:
        cat = read_po(f)
    for msg in cat:
        if msg.id and not msg.string:
            msg.string = msg.id
    with open(en, "wb") as f:
        write_po(f, cat, width=100)
    with open(root / "translations" / "ms" / "LC_MESSAGES" / "messages.po", "rb") as f:
        ms = read_po(f)
    todo = [m.id for m in ms if m.id and (not m.string or m.fuzzy)]
    click.echo(f"{len(todo)} strings still need a Malay translation in translations/ms/LC_MESSAGES/messages.po")
