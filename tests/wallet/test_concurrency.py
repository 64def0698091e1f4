"""N workers spend from one wallet at once: exactly floor(balance / price) succeed, never more.

On PostgreSQL this is the race that matters (real row locks, concurrent transactions); on
SQLite the immediate write transaction serialises the writers. The same assertions hold on both.
"""

import threading

from sqlalchemy import func, select

from ebiz.accounts.models import User
from ebiz.db import begin_write
from ebiz.errors import InsufficientFunds
from ebiz.extensions import db
from ebiz.payments.models import IntentStatus, PaymentIntent
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerEntry, LedgerPosting
from tests.factories import make_user

from .helpers import fund, register_test_payable, spend

WORKERS = 12
BALANCE = 1000
PRICE = 300


def test_concurrent_spends_never_overdraw(app, is_postgres):
    user = make_user(tier="primary")
    fund(user, BALANCE)
    register_test_payable()
    user_id = user.id
    barrier = threading.Barrier(WORKERS)
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int):
        with app.app_context():
            outcome = "error"
            try:
                barrier.wait(timeout=30)
                begin_write()  # what a POST request does first
                spend(db.session.get(User, user_id), PRICE, key=f"spend-{i}")
                db.session.commit()
                outcome = "ok"
            except InsufficientFunds:
                db.session.rollback()
                outcome = "insufficient"
            except Exception as exc:  # noqa: BLE001 (reported in the assertion below)
                db.session.rollback()
                outcome = f"error: {type(exc).__name__}: {exc}"
            finally:
                db.session.remove()
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.rollback()  # end the main thread's snapshot: see what the workers committed
    expected = BALANCE // PRICE
    assert results.count("ok") == expected, results
    assert results.count("insufficient") == WORKERS - expected, results
    assert wallet.balance(user) == BALANCE - expected * PRICE
    spends = db.session.scalar(select(func.count()).select_from(LedgerPosting).where(LedgerPosting.kind == "spend"))
    assert spends == expected
    paid = db.session.scalar(select(func.count()).select_from(PaymentIntent)
                             .where(PaymentIntent.status == IntentStatus.SUCCEEDED))
    assert paid == expected
    assert db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0))) == 0
    assert wallet.verify() == []


def test_concurrent_duplicate_requests_spend_once(app, is_postgres):
    """The same idempotency key sent by several workers at once (a double-clicked button)."""
    user = make_user(tier="primary")
    fund(user, BALANCE)
    register_test_payable()
    user_id = user.id
    barrier = threading.Barrier(6)
    outcomes = []

    def worker():
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                begin_write()
                intent = spend(db.session.get(User, user_id), PRICE, key="one-click")
                db.session.commit()
                outcomes.append(intent.reference)
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                outcomes.append(f"error {type(exc).__name__}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.rollback()  # end the main thread's snapshot: see what the workers committed
    assert wallet.balance(user) == BALANCE - PRICE
    assert len({o for o in outcomes if o.startswith("EBZ-PAY")}) == 1, outcomes
    assert wallet.verify() == []


def test_concurrent_ledger_debits_never_overdraw(app, is_postgres):
    """The ledger alone (no payment around it, so no receipt-number lock serialising the
    workers): the conditional UPDATE is what stops a second debit of the same sen."""
    user = make_user(tier="primary")
    fund(user, BALANCE)
    user_id = user.id
    barrier = threading.Barrier(WORKERS)
    results: list[str] = []

    def worker(i: int):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                begin_write()
                owner = db.session.get(User, user_id)
                wallet.post("spend", f"raw-{i}", [(wallet.system_account("revenue"), PRICE),
                                                  (wallet.wallet_account(owner), -PRICE)])
                db.session.commit()
                results.append("ok")
            except InsufficientFunds:
                db.session.rollback()
                results.append("insufficient")
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                results.append(f"error {type(exc).__name__}: {exc}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.rollback()
    assert results.count("ok") == BALANCE // PRICE, results
    assert wallet.balance(user) == BALANCE - (BALANCE // PRICE) * PRICE
    assert wallet.verify() == []
