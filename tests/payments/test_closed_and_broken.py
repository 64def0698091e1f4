"""Payments that can no longer be made, money that does not fit the wallet, a gateway that
answers garbage, and a reused key with another bank."""

import secrets
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.clock import utcnow
from ebiz.errors import Conflict
from ebiz.extensions import db
from ebiz.orders import service as orders
from ebiz.payments import service as payments
from ebiz.payments.models import PaymentIntent, RefundRequest
from ebiz.wallet import service as wallet
from tests.factories import csrf_from, make_counter, make_user
from tests.factories import sign_in as staff_sign_in
from tests.orders.helpers import accepted_for, digital_product, fund, gateway_paid, pay_online

from .helpers import csrf, sign_in, topup_intent


def _order(user, product):
    orders.add_to_cart(user, product.id)
    order = orders.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(product), ip="127.0.0.1")
    db.session.commit()
    return order


def _cancelled_while_at_the_bank(user, method: str):
    """A RM 50 order the customer starts paying online, then cancels: (order, intent)."""
    order = _order(user, digital_product(price_sen=5000))
    intent = pay_online(order, method)
    orders.cancel(order, actor=user)
    db.session.commit()
    return order, intent


def test_money_for_a_cancelled_order_that_would_overfill_the_wallet_goes_to_the_refund_queue(app, sandbox_db):
    cap = app.config["WALLET_MAX_BALANCE_SEN"]
    user = make_user(tier=Tier.PRIMARY)
    fund(user, cap - 1000)
    order, intent = _cancelled_while_at_the_bank(user, "fpx")
    gateway_paid(intent)  # ... and still pays at the bank
    assert wallet.balance(user) == cap - 1000  # a top-up of RM 50 would be refused: so is this credit
    queued = db.session.scalars(select(RefundRequest).where(RefundRequest.intent_id == intent.id)).all()
    assert [r.amount_sen for r in queued] == [5000]
    db.session.refresh(order)
    assert order.refund_route == "staff"
    assert wallet.verify() == []


def test_money_for_a_cancelled_order_that_fits_still_goes_to_the_wallet(app, sandbox_db):
    user = make_user(tier=Tier.PRIMARY)
    _, intent = _cancelled_while_at_the_bank(user, "card")
    gateway_paid(intent)
    assert wallet.balance(user) == 5000
    assert db.session.scalar(select(RefundRequest).where(RefundRequest.intent_id == intent.id)) is None


def test_a_cancelled_orders_payment_cannot_be_continued(app, sandbox_db):
    user = make_user(tier=Tier.PRIMARY)
    _, intent = _cancelled_while_at_the_bank(user, "card")
    client = app.test_client()
    sign_in(client, user)
    page = client.get(f"/payments/{intent.reference}").get_data(as_text=True)
    assert 'data-testid="payment-closed"' in page and "/continue" not in page
    r = client.post(f"/payments/{intent.reference}/continue", data={"csrf_token": csrf(client)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/payments/{intent.reference}")
    assert "sandbox-gateway" not in r.headers["Location"]


def test_a_payment_past_its_time_cannot_be_started_again(app, sandbox_db):
    user = make_user(tier=Tier.PRIMARY)
    intent = topup_intent(user, 2000)
    with app.test_request_context():
        assert "/sandbox-gateway/pay?" in payments.start_online(intent)  # still open: to the gateway
    db.session.get(PaymentIntent, intent.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with app.test_request_context(), pytest.raises(Conflict):
        payments.start_online(intent)
    client = app.test_client()
    sign_in(client, user)
    page = client.get(f"/payments/{intent.reference}").get_data(as_text=True)
    assert 'data-testid="payment-closed"' in page


def _garbage_gateway(payload: bytes):
    """A loopback "gateway" that answers every request with `payload` and hangs up."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)

    def run():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(payload)

    threading.Thread(target=run, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.getsockname()[1]}"


@pytest.mark.parametrize("payload", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"merchant_ref\"",  # cut off mid-body
    b"garbage\r\n\r\n",  # not HTTP at all
], ids=["cut-off", "not-http"])
def test_a_gateway_answering_broken_http_leaves_the_payment_pending(app, sandbox_db, monkeypatch, payload):
    user = make_user(tier=Tier.PRIMARY)
    intent = topup_intent(user, 2000)
    srv, url = _garbage_gateway(payload)
    monkeypatch.setitem(app.config, "SANDBOX_GATEWAY_URL", url)
    try:
        client = app.test_client()
        sign_in(client, user)
        r = client.get(f"/payments/{intent.reference}?status=00")
        assert r.status_code == 200 and 'data-status="pending"' in r.get_data(as_text=True)
        r = client.post(f"/payments/{intent.reference}/check", data={"csrf_token": csrf(client)})
        assert r.status_code == 302
        assert db.session.get(PaymentIntent, intent.id).status == "pending"
    finally:
        srv.close()


def test_the_same_key_with_another_bank_is_refused(app, sandbox_db):
    user = make_user(tier=Tier.PRIMARY)
    first = wallet.start_topup(user, 2000, method="fpx", bank_code="MB2U0227", idempotency_key="k1")
    db.session.commit()
    assert wallet.start_topup(user, 2000, method="fpx", bank_code="MB2U0227", idempotency_key="k1").id == first.id
    with pytest.raises(Conflict):
        wallet.start_topup(user, 2000, method="fpx", bank_code="BCBB0236", idempotency_key="k1")


def test_the_counter_refuses_a_decimal_comma_instead_of_crediting_a_hundred_times_more(app, client):
    staff = make_user(role=Role.COUNTER, counter=make_counter("HQ"))
    staff_sign_in(client, staff)
    customer = make_user(tier=Tier.PRIMARY)
    page = client.get(f"/counter/customers/{customer.id}")
    r = client.post(f"/counter/customers/{customer.id}/topup",
                    data={"csrf_token": csrf_from(page.data), "amount": "100,00", "receipt_no": "HQ-1"})
    assert r.status_code in (200, 400)
    assert wallet.balance(customer) == 0
