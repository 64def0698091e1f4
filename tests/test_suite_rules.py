"""Rules of the test suite itself: markers that work, skips that say so, helpers that live in helpers."""

import ast
import tomllib
from pathlib import Path

import pytest

from ebiz.extensions import db

TESTS = Path(__file__).resolve().parent


@pytest.mark.postgres_only("checks the marker itself")
def test_postgres_only_runs_only_on_postgresql(app):
    assert db.engine.dialect.name == "postgresql"


def _calls(tree: ast.AST, dotted: str):
    obj, attr = dotted.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == obj:
            yield node


def test_no_test_skips_inside_its_body():
    """A test that runs on one database only says so with `postgres_only`; only conftest's
    `require_service` (tests/services.py) skips at run time: a missing service, which
    EBIZ_REQUIRE_SERVICES=1 turns into a failure."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path in (TESTS / "conftest.py", TESTS / "services.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(TESTS)}:{call.lineno}" for call in _calls(tree, "pytest.skip")]
    assert not found, f"use a marker (postgres_only) or services.require_service instead: {found}"


def test_test_modules_import_helpers_not_other_tests():
    """Shared code lives in conftest fixtures, tests/factories.py or a helpers module, never in a test file."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rsplit(".", 1)[-1]
                if last.startswith("test_") or last == "conftest":
                    found.append(f"{path.relative_to(TESTS)}:{node.lineno} imports {node.module}")
    assert not found, found


def test_every_declared_marker_is_used():
    """A marker nobody uses is a promise nobody keeps: declare only what some test carries."""
    settings = tomllib.loads((TESTS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {m.split(":")[0].split("(")[0] for m in settings["tool"]["pytest"]["ini_options"]["markers"]}
    source = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("test_*.py"))
    assert {m for m in declared if f"mark.{m}" not in source} == set()
