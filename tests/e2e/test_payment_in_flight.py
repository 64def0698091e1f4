"""Browser test of a payment lost in flight (issue 11 §1): the customer goes to the bank, closes
the window; the order page says the bank may have the money and offers no second payment; once
the bank's money is found (the callback was lost), the order reads paid."""

from pathlib import Path

import pytest
from sqlalchemy import select

from ebiz.accounts.models import Tier
from ebiz.extensions import db
from ebiz.orders import service
from tests.e2e.helpers import sign_in
from tests.factories import make_counter, make_user
from tests.orders.helpers import printed_product

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_a_payment_lost_in_flight_is_checked_not_paid_again(live_server, page):
    app = live_server.app
    with app.app_context():
        customer = make_user(tier=Tier.REGULAR, full_name="Siti Aishah binti Omar")
        counter = make_counter("SEL", is_hq=False)
        product = printed_product(price_sen=2500)
        service.add_to_cart(customer, product.id)
        order = service.checkout(customer, checkout_key="e2e", accepted={}, collect_counter_id=counter.id)
        db.session.commit()
        email, ref = customer.email, order.reference
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    sign_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/orders/{ref}")
    page.get_by_test_id("method-fpx").check()
    page.get_by_test_id("bank").select_option("MB2U0227")
    page.get_by_test_id("pay").click()
    page.wait_for_load_state()
    assert "/sandbox-gateway/" in page.url
    # The customer closes the bank's window and comes back to the order later.
    page.goto(f"{live_server.url}/orders/{ref}")
    panel = page.get_by_test_id("payment-in-flight")
    assert "Your bank may have taken the money: we are checking" in panel.inner_text()
    assert page.get_by_test_id("pay").count() == 0
    assert "Nothing has been charged" not in page.content() and "Nothing has been paid" not in page.content()
    assert page.get_by_test_id("cancel-in-flight").count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "payment-in-flight.png"), full_page=True)

    # The bank had taken the money; its answer was lost. Looking again finds it: the order is paid.
    from ebiz.payments.models import PaymentIntent
    from ebiz.payments.sandbox import store

    with app.app_context():
        intent = db.session.scalars(select(PaymentIntent)).one()
        with store.engine().connect() as c:
            txn = c.execute(select(store.txn_table).where(store.txn_table.c.merchant_ref == intent.reference)
                            ).mappings().one()
        store.set_status(txn["txn_id"], "00", callback_mode="drop")
    page.reload()
    assert page.get_by_test_id("payment-in-flight").count() == 0
    assert "Payment successful" in page.locator("h1").inner_text()
    assert page.get_by_test_id("receipt-link").count() == 1
    page.screenshot(path=str(SHOTS / "payment-found-paid.png"), full_page=True)
