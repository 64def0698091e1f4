"""`flask catalog ...` commands."""

from flask.cli import AppGroup

cli = AppGroup("catalog", help="Catalog commands.")
