"""Browser tests of buying: search, open a product, accept its licence, pay by wallet, see the
receipt and the licence certificate; then download the file and check its SHA-256."""

import hashlib
import io
import re

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.extensions import db
from tests.factories import PASSWORD, make_counter, make_user
from tests.orders.helpers import digital_product

pytestmark = pytest.mark.e2e

DATA = b"parcel_id,lot,mukim\n" + b"".join(f"{i},{1000 + i},Petaling\n".encode() for i in range(2000))


def _setup(app):
    from ebiz.delivery.service import store_file
    from ebiz.wallet import service as wallet

    with app.app_context():
        hq = make_counter("HQ")
        staff = make_user(role=Role.COUNTER, counter=hq)
        admin = make_user(role=Role.ADMIN)
        buyer = make_user(tier=Tier.PRIMARY, full_name="Aminah binti Hassan")
        wallet.topup_at_counter(staff=staff, customer=buyer, amount_sen=20000, receipt_no="E2E-1")
        product = digital_product(price_sen=4500, commit=False)
        product.name = "Lot kadaster Petaling Jaya"
        product.allowed_extensions = ".csv"
        db.session.flush()
        pf = store_file(product.id, io.BytesIO(DATA), "petaling.csv", actor=admin, version_id=product.versions[0].id)
        db.session.commit()
        return buyer.email, product.name, pf.sha256


def _sign_in(page, base, email):
    page.goto(base + "/account/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()
    assert "/account/login" not in page.url


def _buy(page, base, name):
    page.goto(base + "/catalog/")
    page.get_by_test_id("catalog-search").fill("kadaster")
    page.get_by_test_id("catalog-search-submit").click()
    page.get_by_role("link", name=name).click()
    assert page.get_by_test_id("product-name").inner_text() == name
    page.get_by_test_id("add-to-cart").click()
    assert "/orders/cart" in page.url
    page.get_by_test_id("accept-licence").check()
    page.get_by_test_id("checkout").click()
    assert re.search(r"/orders/EBZ-ORD-", page.url)
    order_url = page.url
    page.get_by_test_id("method-wallet").check()
    page.get_by_test_id("pay").click()
    page.get_by_test_id("receipt").wait_for()
    return order_url


def test_primary_customer_buys_with_wallet_and_gets_receipt_and_certificate(live_server, page):
    email, name, _sha = _setup(live_server.app)
    _sign_in(page, live_server.url, email)
    order_url = _buy(page, live_server.url, name)
    receipt = page.get_by_test_id("receipt").inner_text()
    assert "RCP-" in receipt and "45.00" in receipt
    page.goto(order_url)
    page.get_by_test_id("licence-link").click()
    cert = page.get_by_test_id("certificate")
    number = page.get_by_test_id("licence-number").inner_text().strip()
    assert number.startswith("EBZ-LIC-") and name in cert.inner_text()
    assert page.locator(".certificate .qr img").get_attribute("src").startswith("data:image/svg+xml")
    # The public verification page confirms it without the licensee's name.
    page.goto(f"{live_server.url}/verify/{number}")
    result = page.get_by_test_id("verify-result")
    assert result.get_attribute("data-state") == "valid" and "Aminah" not in result.inner_text()


def test_bought_file_downloads_with_the_checksum_shown(live_server, page):
    email, name, sha = _setup(live_server.app)
    _sign_in(page, live_server.url, email)
    _buy(page, live_server.url, name)
    page.goto(live_server.url + "/downloads/")
    shown = page.get_by_test_id("checksum").first.inner_text().strip()
    assert shown == sha
    with page.expect_download() as info:
        page.get_by_test_id("download").first.click()
    path = info.value.path()
    with open(path, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == shown
