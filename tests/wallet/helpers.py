"""Wallet test helpers: a test-only payable kind that spends from the wallet."""

import secrets

from ebiz.extensions import db
from ebiz.payments import service as payments
from ebiz.wallet import service as wallet

KIND = "test_purchase"


def register_test_payable():
    payments.register_payable(KIND, settle=lambda intent: wallet.collect(intent),
                              describe=lambda intent: f"Test purchase {intent.payable_ref}",
                              return_url=lambda intent: "/")


def spend(user, amount_sen, key=None):
    """Pay `amount_sen` from the wallet for a test purchase, in the current transaction."""
    register_test_payable()
    intent = payments.create_intent(user, kind=KIND, payable_ref="T-1", amount_sen=amount_sen, method="wallet",
                                    idempotency_key=key or secrets.token_hex(8))
    return payments.pay_with_wallet(intent)


def fund(user, amount_sen, receipt_no=None):
    """Top up at the HQ counter (creates the HQ counter and a staff member when needed)."""
    from sqlalchemy import select

    from ebiz.counters.models import Counter
    from tests.factories import make_counter, make_user

    hq = db.session.scalar(select(Counter).where(Counter.code == "HQ")) or make_counter("HQ")
    staff = make_user(role="counter_staff", counter=hq)
    wallet.topup_at_counter(staff=staff, customer=user, amount_sen=amount_sen,
                            receipt_no=receipt_no or f"HQ-{secrets.token_hex(4)}")
    db.session.commit()
    return staff
