"""Wallet tests use the same fresh sandbox gateway as the payments tests."""

import pytest


@pytest.fixture(autouse=True)
def _sandbox(sandbox_db):
    """Every wallet test has the in-process sandbox gateway on a fresh database (tests/conftest.py)."""
