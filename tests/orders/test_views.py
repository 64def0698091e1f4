"""The order pages over HTTP: cart, checkout with licence click-through, paying, documents, ownership."""

import re

from click.testing import CliRunner
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.licensing.models import LicenceAcceptance, LicenceGrant
from ebiz.orders.models import CartItem, Order
from ebiz.wallet import service as wallet
from tests.factories import make_user
from tests.orders.helpers import client_for, csrf, digital_product, fund, printed_product


def _add(client, product_id, token):
    return client.post("/orders/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})


def test_regular_customer_adding_digital_data_is_told_how_to_upgrade(app):
    user = make_user(tier=Tier.REGULAR)
    dig = digital_product()
    client = client_for(app, user)
    r = _add(client, dig.id, csrf(client, "/orders/cart"))
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Pengguna Utama" in page and "kaunter" in page  # Bahasa Malaysia by default
    assert db.session.scalar(select(func.count(CartItem.id))) == 0


def test_checkout_without_csrf_token_is_refused_and_writes_nothing(app):
    user = make_user(tier=Tier.PRIMARY)
    dig = digital_product()
    client = client_for(app, user)
    _add(client, dig.id, csrf(client, "/orders/cart"))
    r = client.post("/orders/checkout", data={"checkout_key": "abc", f"licence_{dig.id}": "x"})
    assert r.status_code == 400
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_buy_by_wallet_through_the_pages(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    dig = digital_product(price_sen=4000)
    client = client_for(app, user)
    _add(client, dig.id, csrf(client, "/orders/cart"))
    cart = client.get("/orders/cart").get_data(as_text=True)
    sha = re.search(rf'name="licence_{dig.id}" value="([0-9a-f]{{64}})"', cart).group(1)
    key = re.search(r'name="checkout_key"[^>]*value="([^"]+)"', cart).group(1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', cart).group(1)
    # Without ticking the licence: refused, nothing written.
    r = client.post("/orders/checkout", data={"csrf_token": token, "checkout_key": key})
    assert r.status_code == 400 and 'data-testid="licence-error"' in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0
    r = client.post("/orders/checkout", data={"csrf_token": token, "checkout_key": key, f"licence_{dig.id}": sha},
                    headers={"User-Agent": "Browser/1.0"})
    assert r.status_code == 302
    order = db.session.scalars(select(Order)).one()
    assert r.headers["Location"].endswith(f"/orders/{order.reference}")
    acc = db.session.scalars(select(LicenceAcceptance)).one()
    assert acc.text_sha256 == sha and acc.user_agent == "Browser/1.0" and acc.ip == "127.0.0.1"
    page = client.get(f"/orders/{order.reference}").get_data(as_text=True)
    assert "Waiting for your payment" in page or "Menunggu" in page or order.invoice.number in page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    ikey = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', page).group(1)
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": token, "method": "wallet",
                                                             "idempotency_key": ikey})
    assert r.status_code == 302 and "/payments/" in r.headers["Location"]
    db.session.rollback()
    assert wallet.balance(user) == 6000 and db.session.get(Order, order.id).status == "fulfilled"
    grant = db.session.scalars(select(LicenceGrant)).one()
    page = client.get(f"/orders/{order.reference}").get_data(as_text=True)
    assert grant.number in page and "receipt-link" in page
    inv = client.get(f"/orders/{order.reference}/invoice")
    assert inv.status_code == 200 and order.invoice.number in inv.get_data(as_text=True)
    pdf = client.get(f"/orders/{order.reference}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    mine = client.get("/orders/?status=successful").get_data(as_text=True)
    assert order.reference in mine
    assert order.reference not in client.get("/orders/?status=awaiting").get_data(as_text=True)
    # Someone else gets "not found" for every page of this order.
    other = client_for(app, make_user(tier=Tier.PRIMARY))
    for path in ("", "/invoice", "/invoice.pdf"):
        assert other.get(f"/orders/{order.reference}{path}").status_code == 404
    assert other.get(f"/licences/{grant.number}").status_code == 404


def test_flask_orders_expire(app):
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(stock=1)
    from tests.orders.helpers import place

    order = place(user, prt)
    order.expires_at = utcnow()
    db.session.commit()
    result = CliRunner().invoke(app.cli, ["orders", "expire"], catch_exceptions=False)
    assert f"expired {order.reference}" in result.output and "1 order(s) expired" in result.output
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "expired"


def test_flask_orders_expire_fulfils_finished_training(app):
    from datetime import timedelta

    from tests.orders.helpers import gateway_paid, pay_online, place, training

    user = make_user(tier=Tier.REGULAR)
    trn, session = training()
    order = place(user, (trn, session))
    gateway_paid(pay_online(order, "card"))
    session.starts_at, session.ends_at = utcnow() - timedelta(hours=8), utcnow() - timedelta(hours=1)
    db.session.commit()
    result = CliRunner().invoke(app.cli, ["orders", "expire"], catch_exceptions=False)
    assert "1 training order(s) fulfilled" in result.output
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "fulfilled"


def test_my_training_lists_registrations(app):
    from tests.orders.helpers import place, training

    user = make_user(tier=Tier.REGULAR)
    trn, session = training()
    order = place(user, (trn, session))
    client = client_for(app, user)
    page = client.get("/orders/training").get_data(as_text=True)
    assert trn.name in page and order.reference in page and session.venue in page
