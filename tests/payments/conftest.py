import pytest


@pytest.fixture(autouse=True)
def _sandbox(sandbox_db):
    """Every payments test has the in-process sandbox gateway on a fresh database (tests/conftest.py)."""
