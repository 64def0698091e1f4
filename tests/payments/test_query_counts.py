"""My payment history sends the same number of SQL statements whatever the number of payments."""

import secrets

from ebiz.accounts.models import Tier
from ebiz.extensions import db
from ebiz.orders import service as orders
from ebiz.payments import service as payments
from tests.factories import make_user
from tests.orders.helpers import accepted_for, digital_product, pay_online
from tests.sql_counting import page_statements

from .helpers import sign_in, topup_intent


def _order_payment(user):
    """A two-line order with an online payment started for it: (intent reference, order reference, line names)."""
    products = [digital_product(), digital_product()]
    for p in products:
        orders.add_to_cart(user, p.id)
    order = orders.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(*products),
                            ip="127.0.0.1", user_agent="pytest")
    db.session.commit()
    intent = pay_online(order, "card")
    return intent.reference, order.reference, [p.name for p in products]


def test_payment_history_queries_do_not_grow_with_payments(app):
    counts = {}
    for n in (2, 10):
        user = make_user(tier=Tier.PRIMARY)
        rows = [_order_payment(user) for _ in range(n)]
        topup = topup_intent(user).reference  # another payable kind on the same page
        client = app.test_client()
        sign_in(client, user)
        html, seen = page_statements(client, "/payments/history")
        for intent_ref, order_ref, names in rows:
            assert intent_ref in html and f"Order {order_ref}: 1 × {names[0]} (2026.1); 1 × {names[1]} (2026.1)" in html
        assert topup in html and "Wallet top-up" in html
        counts[n] = len(seen)
    assert counts[2] == counts[10], counts


def test_describe_all_says_what_describe_says(app):
    user = make_user(tier=Tier.PRIMARY)
    _order_payment(user)
    topup_intent(user)
    intents = db.session.scalars(payments.history_query(user)).all()
    assert payments.describe_all(intents) == {i.id: payments.describe(i) for i in intents}
    assert payments.describe_all([]) == {}
