"""Wallet tests use the same fresh sandbox gateway as the payments tests (autouse)."""

from tests.payments.conftest import sandbox_db  # noqa: F401  (re-exported fixture)
