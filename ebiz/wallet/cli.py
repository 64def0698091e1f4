"""`flask wallet ...` commands."""

import sys

import click
from flask.cli import AppGroup

cli = AppGroup("wallet", help="Wallet commands.")


@cli.command("verify")
def verify():
    """Check the ledger: postings sum to zero, cached wallet balances equal their entries."""
    from . import service

    problems = service.verify()
    if problems:
        for p in problems:
            click.echo(f"PROBLEM {p}")
        click.echo(f"Ledger NOT sound: {len(problems)} problem(s).")
        sys.exit(1)
    click.echo("Ledger sound: every posting sums to zero and every wallet balance matches its entries.")
