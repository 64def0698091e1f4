"""On a phone (390 px) payment history and order tables fit the screen: Amount, Status and Receipt are
read without scrolling sideways (each row becomes a card, each cell under its column's name)."""

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.extensions import db
from tests.e2e.helpers import PHONE, sign_in
from tests.factories import make_counter, make_user
from tests.orders.helpers import printed_product

pytestmark = pytest.mark.e2e


def _paid_order(app):
    from ebiz.wallet import service as wallet
    from tests.orders.helpers import pay_wallet, place

    with app.app_context():
        staff = make_user(role=Role.COUNTER, counter=make_counter("HQ"))
        buyer = make_user(tier=Tier.PRIMARY, full_name="Aminah binti Hassan")
        wallet.topup_at_counter(staff=staff, customer=buyer, amount_sen=20000, receipt_no="E2E-PHONE-1")
        product = printed_product(price_sen=1250, commit=False)
        product.name = "Topographic map sheet 3757 with a rather long printed title"
        db.session.commit()
        intent = pay_wallet(place(buyer, product))
        return buyer.email, intent.receipt_no


def _within_screen(page, testid, texts):
    page.get_by_test_id(testid).wait_for()
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    table = page.get_by_test_id(testid)
    assert page.evaluate("t => t.scrollWidth <= t.clientWidth", table.element_handle())
    for item in [*(table.locator("tbody").get_by_text(t, exact=False).first for t in texts),
                 table.locator("tbody .badge").first]:
        box = item.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, item


def test_payment_history_and_orders_fit_a_phone(live_server, page):
    email, receipt_no = _paid_order(live_server.app)
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    sign_in(page, live_server.url, email)
    page.goto(live_server.url + "/payments/history")
    _within_screen(page, "payment-history", ["RM 12.50", receipt_no])
    page.goto(live_server.url + "/orders/")
    _within_screen(page, "my-orders", ["RM 12.50"])
    page.get_by_test_id("my-orders").get_by_role("link").first.click()
    page.get_by_test_id("order-lines").wait_for()
    _within_screen(page, "order-lines", ["RM 12.50"])
