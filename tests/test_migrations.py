"""The Alembic migrations build exactly the schema the models describe, on both databases."""

import ast
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from config import TestingConfig
from ebiz import create_app
from ebiz.audit import guards as audit_guards
from ebiz.extensions import db
from ebiz.wallet import guards as wallet_guards
from tests.services import private_pg_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with private_pg_schema("m") as url:
        yield url


def _comparable(obj, name, type_, reflected, compare_to):
    """Leave out the full-text indexes: PostgreSQL rewrites their expressions and SQLite cannot
    reflect them, so autogenerate cannot compare them; the test checks them directly instead."""
    return not (type_ == "index" and name in FULL_TEXT_INDEXES)


# index name -> what its PostgreSQL definition must mention
FULL_TEXT_INDEXES = {"ix_product_search": ("name_ms", "description_ms"),
                     "ix_user_account_name_search": ("full_name", "company_name")}


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_upgrade_matches_models_and_downgrades_cleanly(empty_database_url):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            opts = {"compare_type": True, "include_object": _comparable}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
            if conn.dialect.name == "postgresql":
                for name, columns in FULL_TEXT_INDEXES.items():
                    indexdef = conn.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n "
                                                   "AND schemaname = current_schema()"), {"n": name})
                    assert indexdef and "USING gin" in indexdef and "to_tsvector" in indexdef, name
                    assert all(c in indexdef for c in columns), indexdef
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()


VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def test_revisions_never_import_application_code():
    """A revision is frozen history: it may use Alembic, SQLAlchemy and the standard library only."""
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or "."] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.ImportFrom) and node.level:
                names = ["(relative)"]
            for name in names:
                top = name.split(".")[0]
                if top not in ("alembic", "sqlalchemy") and top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert not offenders, offenders


@pytest.mark.parametrize("guards", [audit_guards, wallet_guards], ids=["audit", "ledger"])
def test_the_latest_revision_installs_the_guards_the_models_install(guards):
    """The tests' create_all installs ebiz/*/guards.py; a migration installs its frozen copy. They agree,
    so a change to a guard without a revision that installs it fails here."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(VERSIONS.glob("*.py"))]
    missing = [s for s in guards.INSTALL + guards.UNINSTALL if not any(s in src for src in sources)]
    assert not missing, f"no revision installs this text of {guards.__name__}: {missing}"
