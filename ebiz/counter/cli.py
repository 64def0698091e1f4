"""`flask counter ...` commands."""

from flask.cli import AppGroup

cli = AppGroup("counter", help="Counter commands.")
