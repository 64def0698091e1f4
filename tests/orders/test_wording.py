"""What each reader is told: the admin who cancels a paid order, the customer after checkout, Regular
customers' menu, and the Malay words for the payment gateway."""

import re

from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.extensions import db
from ebiz.orders.models import Order
from tests.factories import make_user
from tests.orders.helpers import client_for, csrf, digital_product, fund, pay_wallet, place, printed_product


def _get(client, path):
    return client.get(path).get_data(as_text=True)


def test_an_admin_cancelling_a_paid_order_is_told_what_happens_to_the_customer(app):
    customer = make_user(tier=Tier.PRIMARY)
    fund(customer, 5000)
    order = place(customer, printed_product(price_sen=1200))
    pay_wallet(order)
    admin = make_user(role=Role.ADMIN)
    client = client_for(app, admin)
    client.set_cookie("lang", "en")
    page = _get(client, f"/orders/{order.reference}")
    hint = re.search(r'data-testid="cancel-hint">([^<]*)<', page).group(1)
    assert "customer's wallet" in hint and "your wallet" not in hint
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = client.post(f"/orders/{order.reference}/cancel", data={"csrf_token": token, "reason": "Out of print"})
    assert r.status_code == 302
    page = _get(client, r.headers["Location"])
    assert "returned to the customer&#39;s wallet" in page and "returned to your wallet" not in page
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "refunded"


def test_the_customer_cancelling_their_own_paid_order_still_reads_about_their_wallet(app):
    customer = make_user(tier=Tier.PRIMARY)
    fund(customer, 5000)
    order = place(customer, printed_product(price_sen=1200))
    pay_wallet(order)
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    token = csrf(client, f"/orders/{order.reference}")
    r = client.post(f"/orders/{order.reference}/cancel", data={"csrf_token": token})
    assert "returned to your wallet" in _get(client, r.headers["Location"])


def test_after_checkout_the_message_names_the_invoice_listed_on_the_page(app):
    user = make_user(tier=Tier.PRIMARY)
    product = digital_product(price_sen=1200)
    client = client_for(app, user)
    token = csrf(client, "/orders/cart")
    client.post("/orders/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1})
    cart = _get(client, "/orders/cart")
    key = re.search(r'name="checkout_key"[^>]*value="([^"]+)"', cart).group(1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', cart).group(1)
    sha = re.search(rf'name="licence_{product.id}" value="([0-9a-f]{{64}})"', cart).group(1)
    r = client.post("/orders/checkout", data={"csrf_token": token, "checkout_key": key, f"licence_{product.id}": sha})
    assert r.status_code == 302
    order = db.session.scalars(select(Order)).one()
    page = _get(client, r.headers["Location"])
    flash = re.search(r'class="flash flash-success[^"]*"[^>]*>(.*?)</', page, re.S).group(1)
    assert order.invoice.number in flash and "di bawah" in flash
    documents = re.search(r'data-testid="documents">(.*?)</ul>', page, re.S).group(1)
    assert order.invoice.number in documents


def test_regular_customers_see_payments_but_no_wallet_menu(app):
    regular, primary = make_user(tier=Tier.REGULAR), make_user(tier=Tier.PRIMARY)
    page = _get(client_for(app, regular), "/orders/")
    assert 'data-testid="nav-group-wallet"' not in page and 'data-testid="nav-wallet"' not in page
    assert 'data-testid="nav-payments"' in page
    page = _get(client_for(app, primary), "/orders/")
    assert 'data-testid="nav-group-wallet"' in page and 'data-testid="nav-wallet"' in page


def test_malay_says_gerbang_pembayaran_for_the_payment_gateway(app):
    from babel.messages.pofile import read_po

    with open(app.root_path + "/../translations/ms/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    texts = [m.string if isinstance(m.string, str) else " ".join(m.string) for m in catalog if m.id]
    assert not [t for t in texts if re.search(r"\bget laluan\b", t, re.I)]
    gateway = [t for m, t in zip([m for m in catalog if m.id], texts, strict=True)
               if isinstance(m.id, str) and "gateway" in m.id.lower()]
    assert gateway and all("gerbang" in t.lower() for t in gateway), gateway
