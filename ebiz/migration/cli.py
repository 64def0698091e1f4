"""`flask migration ...`: import the old system's export, write a sample export."""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from . import importer
from .sample import write_sample

cli = AppGroup("migration", help="Legacy accounts: import the old system's export.")


def _print_report(report, limit: int) -> None:
    for fault in report.faults[:limit]:
        click.echo(f"REJECTED {fault}")
    if len(report.faults) > limit:
        click.echo(f"... and {len(report.faults) - limit} more rejected row(s) (--show-all lists them)")
    for changed in report.changed[:limit]:
        click.echo(f"CHANGED  {changed}")
    for name, c in report.counts.items():
        line = f"{name}: {c.rows} row(s), {c.valid} valid, {c.rows - c.valid} rejected"
        if not report.dry_run:
            line += f"; {c.inserted} imported, {c.unchanged} unchanged, {c.changed} changed (not overwritten)"
        click.echo(line)
    for problem in report.control:
        click.echo(f"CONTROL  {problem}")
    if not report.control:
        click.echo("Control totals hold." if report.dry_run else
                   "Control totals hold: the ledger holds exactly the export's accepted balances.")


@cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only validate and report; write nothing.")
@click.option("--show-all", is_flag=True, help="List every rejected row (else the first 200).")
@click.option("--lang", default="en", show_default=True, help="Language of the report (en or ms).")
def import_cmd(directory: Path, dry_run: bool, show_all: bool, lang: str):
    """Validate every row of DIRECTORY's export, then import the good ones (see README)."""
    with force_locale(lang):
        try:
            if dry_run:
                report = importer.validate(directory)
            else:
                total = importer.count_rows(directory)
                with click.progressbar(length=total, label="Importing", file=sys.stderr) as bar:
                    report = importer.import_export(directory, progress=bar.update)
        except importer.ExportError as exc:
            click.echo(f"Cannot read the export: {exc}", err=True)
            sys.exit(2)
        _print_report(report, 10**9 if show_all else 200)
    if report.control:
        if not dry_run and report.counts["customers"].inserted == 0 and not report.counts["customers"].unchanged:
            click.echo("Nothing was imported: the export contradicts its control file.")
        sys.exit(1)


@cli.command("sample")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--customers", default=300, show_default=True)
@click.option("--orders-per-customer", default=1.5, show_default=True)
@click.option("--no-faults", is_flag=True, help="Leave out the deliberately faulty rows.")
def sample_cmd(directory: Path, customers: int, orders_per_customer: float, no_faults: bool):
    """Write a deterministic sample export of the old system into DIRECTORY."""
    rows = write_sample(directory, customers=customers, orders_per_customer=orders_per_customer,
                        faults=not no_faults)
    click.echo(f"Wrote {rows['customers']} customers, {rows['balances']} balances, {rows['orders']} orders "
               f"to {directory}")
