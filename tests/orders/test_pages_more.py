"""More order pages: the request of an on-demand service from product page to staff desk, paying as a
Regular customer, and paying again after a declined online payment."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.orders.models import CartItem, Order
from ebiz.payments.models import PaymentIntent
from tests.factories import make_user
from tests.orders.helpers import client_for, extraction_service, fund, place, printed_product
from tests.payments.helpers import bank_answers, post_callback

NOTE = "Lot boundaries of Mukim Damansara as GeoPackage, for the Sungai Buloh drainage study"


def _get(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


def _notes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in re.findall(r'data-testid="request-note">(.*?)</', html, re.S)]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# -- 5. the request of an on-demand extraction ----------------------------------------------------------

def test_extraction_request_travels_from_product_page_to_cart_order_and_staff_queue(app):
    customer = make_user(tier=Tier.PRIMARY)
    fund(customer, 50000)
    ext = extraction_service(price_sen=20000)
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    page = _get(client, f"/catalog/p/{ext.slug}")
    area = re.search(r'<textarea[^>]*data-testid="request-note"[^>]*>', page)
    assert area and 'name="request_note"' in area.group(0) and "required" in area.group(0)
    token = _field(page, "csrf_token")

    # Without a note (or with only blanks): the error, and nothing in the cart.
    for note in (None, "   \n  "):
        data = {"csrf_token": token, "product_id": ext.id, "next": f"/catalog/p/{ext.slug}"}
        if note is not None:
            data["request_note"] = note
        r = client.post("/orders/cart/add", data=data)
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/catalog/p/{ext.slug}")
        assert "Describe what we should extract" in _get(client, r.headers["Location"])
        assert count(CartItem) == 0

    r = client.post("/orders/cart/add", data={"csrf_token": token, "product_id": ext.id, "request_note": NOTE,
                                              "next": f"/catalog/p/{ext.slug}"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/orders/cart")
    assert db.session.scalars(select(CartItem)).one().request_note == NOTE
    cart = _get(client, "/orders/cart")
    assert _notes(cart) == [f"Your request: {NOTE}"]

    sha = re.search(rf'name="licence_{ext.id}" value="([0-9a-f]{{64}})"', cart).group(1)
    r = client.post("/orders/checkout", data={"csrf_token": _field(cart, "csrf_token"),
                                              "checkout_key": _field(cart, "checkout_key"), f"licence_{ext.id}": sha})
    assert r.status_code == 302
    order = db.session.scalars(select(Order)).one()
    assert order.lines[0].request_note == NOTE
    detail = _get(client, f"/orders/{order.reference}")
    assert _notes(detail) == [f"Your request: {NOTE}"]

    # Nothing for the staff until it is paid; then the request is on the fulfilment desk.
    admin = make_user(role=Role.ADMIN)
    staff = client_for(app, admin)
    staff.set_cookie("lang", "en")
    assert NOTE not in _get(staff, "/orders/staff")
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(detail, "csrf_token"),
                                                             "method": "wallet",
                                                             "idempotency_key": _field(detail, "idempotency_key")})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    queue = _get(staff, "/orders/staff?kind=service")
    assert _notes(queue) == [f"Request: {NOTE}"] and order.reference in queue
    # Staff opening the order see the request too.
    assert _notes(_get(staff, f"/orders/{order.reference}")) == [f"Your request: {NOTE}"]


# -- 6. a Regular customer and the wallet ---------------------------------------------------------------

WALLET_HINT = ("The prepaid wallet is for Primary customers: verify your identity at any eBiz counter "
               "to upgrade.")


def test_regular_customers_order_page_offers_no_wallet_and_says_how_to_upgrade(app):
    regular = make_user(tier=Tier.REGULAR)
    order = place(regular, printed_product(price_sen=1500))
    client = client_for(app, regular)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="method-fpx"' in html and 'data-testid="method-card"' in html
    assert 'data-testid="method-wallet"' not in html and 'value="wallet"' not in html
    assert WALLET_HINT in html

    # Posting "wallet" anyway is refused with the reason, and nothing is paid or started.
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(html, "csrf_token"),
                                                             "method": "wallet",
                                                             "idempotency_key": _field(html, "idempotency_key")})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/orders/{order.reference}")
    assert "Only Primary customers hold a wallet" in _get(client, r.headers["Location"])
    db.session.expire_all()
    assert count(PaymentIntent) == 0
    assert db.session.get(Order, order.id).status == "pending_payment"

    # A Primary customer's page offers the wallet and needs no such hint.
    primary = make_user(tier=Tier.PRIMARY)
    other = place(primary, printed_product(price_sen=1500))
    pclient = client_for(app, primary)
    pclient.set_cookie("lang", "en")
    html = _get(pclient, f"/orders/{other.reference}")
    assert 'data-testid="method-wallet"' in html and WALLET_HINT not in html


# -- 7. a declined online payment ------------------------------------------------------------------------

def test_declined_payment_says_why_pending_and_the_order_can_be_paid_again(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=2500))
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(html, "csrf_token"),
                                                             "method": "card",
                                                             "idempotency_key": _field(html, "idempotency_key")})
    assert r.status_code == 302 and f"/orders/{order.reference}" not in r.headers["Location"]  # to the gateway
    first = db.session.scalars(select(PaymentIntent)).one()
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="pending-reason"' not in html and 'data-testid="payment-in-flight"' in html

    # The bank declines (51: insufficient funds) and the gateway says so.
    body, headers = bank_answers(app, first, "51")
    assert post_callback(app.test_client(), body, headers).json["outcome"] == "applied"
    db.session.expire_all()
    assert db.session.get(PaymentIntent, first.id).status == "failed"
    assert db.session.get(Order, order.id).status == "pending_payment"

    html = _get(client, f"/orders/{order.reference}")
    reason = re.search(r'data-testid="pending-reason">(.*?)</div>', html, re.S).group(1)
    assert "did not go through" in reason and "pay again" in reason and "returned to you automatically" in reason
    assert "Nothing was charged" not in reason  # a payment given up on may still be paid at the bank
    assert 'data-testid="pay"' in html

    # Paying again starts a new attempt at the gateway.
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(html, "csrf_token"),
                                                             "method": "fpx", "bank_code": "MB2U0227",
                                                             "idempotency_key": _field(html, "idempotency_key")})
    assert r.status_code == 302 and f"/orders/{order.reference}" not in r.headers["Location"]
    db.session.expire_all()
    second = db.session.scalars(select(PaymentIntent).where(PaymentIntent.id != first.id)).one()
    assert second.status == "pending" and second.method == "fpx" and second.amount_sen == 2500
    current = db.session.get(Order, order.id)
    assert current.payment_ref == second.reference and current.payment_method == "fpx"
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="pending-reason"' not in html and 'data-testid="payment-in-flight"' in html


def test_after_a_declined_payment_an_expired_order_cannot_be_paid_again(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=2500))
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(html, "csrf_token"), "method": "card",
                                                         "idempotency_key": _field(html, "idempotency_key")})
    first = db.session.scalars(select(PaymentIntent)).one()
    body, headers = bank_answers(app, first, "51")
    post_callback(app.test_client(), body, headers)
    db.session.expire_all()
    db.session.get(Order, order.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    html = _get(client, f"/orders/{order.reference}")
    r = client.post(f"/orders/{order.reference}/pay", data={"csrf_token": _field(html, "csrf_token"), "method": "card",
                                                             "idempotency_key": _field(html, "idempotency_key")})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/orders/{order.reference}")
    assert "This order has expired" in _get(client, r.headers["Location"])
    db.session.expire_all()
    assert count(PaymentIntent) == 1
    assert db.session.get(Order, order.id).payment_ref == first.reference
