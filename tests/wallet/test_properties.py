"""Property tests (hypothesis): random sequences of top-ups, spends, refunds, failures and
duplicate callbacks keep the ledger invariants: every posting sums to zero, no wallet goes
negative, the cached balance equals the sum of entries and equals a simple model."""

import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebiz.errors import InsufficientFunds
from ebiz.extensions import db
from ebiz.payments import service as payments
from ebiz.wallet import service as wallet
from tests.factories import make_counter, make_user
from tests.payments.helpers import bank_answers, topup_intent

from .helpers import spend

amounts = st.integers(min_value=1, max_value=30_000)
ops = st.lists(st.one_of(
    st.tuples(st.just("counter"), amounts),
    st.tuples(st.just("online_paid"), st.integers(min_value=1_000, max_value=30_000)),
    st.tuples(st.just("online_failed"), st.integers(min_value=1_000, max_value=30_000)),
    st.tuples(st.just("spend"), amounts),
    st.tuples(st.just("refund"), amounts),
), min_size=1, max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_ledger_invariants_hold_for_any_sequence(app, sequence):
    # No database wipe per example: each example works on its own fresh customer.
    from sqlalchemy import select

    from ebiz.counters.models import Counter

    hq = db.session.scalar(select(Counter).where(Counter.code == "HQ")) or make_counter("HQ")
    staff = make_user(role="counter_staff", counter=hq)
    user = make_user(tier="primary")
    model = 0
    for op, amount in sequence:
        if op == "counter":
            wallet.topup_at_counter(staff=staff, customer=user, amount_sen=amount, receipt_no=secrets.token_hex(6))
            model += amount
        elif op in ("online_paid", "online_failed"):
            intent = topup_intent(user, amount)
            with app.test_request_context():
                body, headers = bank_answers(app, intent, "00" if op == "online_paid" else "51")
                for _ in range(2):  # every callback delivered twice
                    payments.handle_callback("sandbox", body, headers)
            model += amount if op == "online_paid" else 0
        elif op == "spend":
            try:
                spend(user, amount)
                model -= amount
            except InsufficientFunds:
                assert amount > model
        else:
            wallet.refund_to_wallet(user, amount, idempotency_key=secrets.token_hex(6), memo="refund")
            model += amount
        db.session.commit()
        assert wallet.balance(user) == model >= 0
    assert wallet.verify() == []
