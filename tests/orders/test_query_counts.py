"""My orders and My training send the same number of SQL statements whatever the number of rows."""

import secrets

from ebiz.accounts.models import Tier
from ebiz.extensions import db
from ebiz.orders import service
from tests.factories import login_session, make_user
from tests.orders.helpers import accepted_for, digital_product, training
from tests.sql_counting import page_statements


def _order(user, *items):
    """Check out `items` (products, or (product, session) for training) as one order."""
    products = []
    for it in items:
        product, session = it if isinstance(it, tuple) else (it, None)
        service.add_to_cart(user, product.id, session_id=getattr(session, "id", None))
        products.append(product)
    order = service.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(*products),
                             ip="127.0.0.1", user_agent="pytest")
    db.session.commit()
    return order


def _page_counts(app, path: str, make_rows, check) -> dict[int, int]:
    counts = {}
    for n in (2, 10):
        user = make_user(tier=Tier.PRIMARY)
        rows = make_rows(user, n)
        client = app.test_client()
        login_session(client, user)
        html, seen = page_statements(client, path)
        check(html, rows)
        counts[n] = len(seen)
    return counts


def test_my_orders_queries_do_not_grow_with_orders(app):
    def make_rows(user, n):
        orders = [_order(user, digital_product(), digital_product()) for _ in range(n)]
        return [(o.reference, [ln.name for ln in o.lines]) for o in orders]

    def check(html, rows):
        assert html.count('data-testid="order-row"') == len(rows)
        for ref, names in rows:
            assert ref in html and len(names) == 2 and all(name in html for name in names)

    counts = _page_counts(app, "/orders/", make_rows, check)
    assert counts[2] == counts[10], counts


def test_my_training_queries_do_not_grow_with_registrations(app):
    def make_rows(user, n):
        orders = [_order(user, training()) for _ in range(n)]
        return [(o.reference, o.lines[0].name) for o in orders]

    def check(html, rows):
        assert html.count('data-testid="training-row"') == len(rows)
        assert html.count("Kuala Lumpur HQ") == len(rows)  # each session's venue
        for ref, name in rows:
            assert ref in html and name in html

    counts = _page_counts(app, "/orders/training", make_rows, check)
    assert counts[2] == counts[10], counts
