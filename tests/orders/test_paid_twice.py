"""A payment lost in flight is never paid twice (issue 11 §1): the order page asks the gateway
about every payment that may still be in flight before it offers a new one; money that arrives
twice goes back by itself, and the customer is told by email and on the order page; an
abandoned bank visit reads as such in the payment history."""

import re
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.orders import service
from ebiz.orders.models import Order
from ebiz.payments import service as payments
from ebiz.payments.models import PaymentEvent, PaymentIntent, RefundRequest
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerPosting
from tests.factories import make_user
from tests.orders.helpers import accepted_for, client_for, digital_product, gateway_paid, place, printed_product
from tests.payments.helpers import bank_answers, open_at_sandbox
from tests.races import race


def _get(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


def _pay(client, order, html, **data):
    key = m.group(1) if (m := re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', html)) else "another-tab"
    return client.post(f"/orders/{order.reference}/pay", data={
        "csrf_token": _field(html, "csrf_token"), "idempotency_key": key, **data})


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _started(app, customer, product, method="fpx"):
    """An order and its first online payment, started from the order page (the customer went to the bank)."""
    order = place(customer, product)
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    r = _pay(client, order, html, method=method, bank_code="MB2U0227")
    assert r.status_code == 302 and "/sandbox-gateway/" in r.headers["Location"]
    intent = db.session.scalars(select(PaymentIntent)).one()
    return order, client, intent


def test_money_taken_by_the_bank_with_its_answer_lost_pays_the_order_when_the_customer_looks(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order, client, first = _started(app, customer, printed_product(price_sen=2500))
    bank_answers(app, first, "00")  # the bank took the money; its callback never arrives; the window is closed
    html = _get(client, f"/orders/{order.reference}")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    assert db.session.get(PaymentIntent, first.id).status == "succeeded"
    assert 'data-testid="pay"' not in html and 'data-testid="receipt-link"' in html
    assert "Nothing has been charged" not in html and "Nothing was charged" not in html
    assert _count(PaymentIntent) == 1


def test_while_a_payment_may_be_in_flight_the_order_says_so_and_takes_no_second_payment(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order, client, first = _started(app, customer, printed_product(price_sen=2500))
    open_at_sandbox(app, first)  # the customer reached the bank's page, then closed it
    html = _get(client, f"/orders/{order.reference}")
    panel = re.search(r'data-testid="payment-in-flight">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "Your bank may have taken the money: we are checking" in panel and first.reference in panel
    assert "Nothing has been charged" not in html and 'data-testid="pay"' not in html
    assert 'data-testid="continue-payment"' in panel and 'data-testid="abandon"' in panel

    # A pay form kept open in another tab is refused: still one payment
    r = _pay(client, order, html, method="card")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/orders/{order.reference}")
    assert "may still be in progress" in _get(client, r.headers["Location"])
    assert _count(PaymentIntent) == 1
    assert db.session.get(Order, order.id).payment_ref == first.reference

    # The bank says "pending": it may have the money, so the payment cannot be abandoned either
    bank_answers(app, first, "09")
    r = client.post(f"/payments/{first.reference}/abandon", data={"csrf_token": _field(html, "csrf_token")})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(PaymentIntent, first.id).status == "pending"
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="payment-in-flight"' in html and 'data-testid="abandon"' not in html
    assert 'data-testid="pay"' not in html

    # It fails at the bank: known failed, the order offers to pay again, and a new payment starts
    bank_answers(app, first, "51")
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="payment-in-flight"' not in html and 'data-testid="pay"' in html
    assert db.session.get(PaymentIntent, first.id).status == "failed"
    r = _pay(client, order, html, method="card")
    assert r.status_code == 302 and "/sandbox-gateway/" in r.headers["Location"]
    assert _count(PaymentIntent) == 2


def test_a_payment_never_made_at_the_bank_can_be_abandoned_to_pay_another_way(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order, client, first = _started(app, customer, printed_product(price_sen=2500))
    html = _get(client, f"/orders/{order.reference}")
    r = client.post(f"/payments/{first.reference}/abandon", data={"csrf_token": _field(html, "csrf_token")})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/orders/{order.reference}")
    db.session.expire_all()
    assert db.session.get(PaymentIntent, first.id).status == "expired"
    assert _count(PaymentEvent, PaymentEvent.source == "abandon", PaymentEvent.outcome == "applied") == 1
    html = _get(client, f"/orders/{order.reference}")
    assert 'data-testid="pay"' in html
    history = _get(client, "/payments/history")
    assert re.findall(r'data-testid="history-status">([^<]*)<', history) == ["Expired"]


def test_an_abandoned_visit_past_its_time_reads_as_not_completed_and_is_expired_on_the_order_page(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order, client, first = _started(app, customer, printed_product(price_sen=2500))
    db.session.get(PaymentIntent, first.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    history = _get(client, "/payments/history")
    assert re.findall(r'data-testid="history-status">([^<]*)<', history) == ["Not completed"]
    html = _get(client, f"/orders/{order.reference}")  # asks the gateway: never seen, time passed
    assert 'data-testid="pay"' in html
    assert db.session.get(PaymentIntent, first.id).status == "expired"


def test_money_that_arrives_twice_goes_back_to_the_wallet_and_the_customer_is_told(app, sandbox_db):
    customer = make_user(tier=Tier.PRIMARY)
    dig = digital_product(price_sen=4000)
    order = place(customer, dig)
    a = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=4000, method="card",
                               idempotency_key="tab-a")
    b = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=4000, method="card",
                               idempotency_key="tab-b")  # two tabs, before this fix refused the second
    db.session.commit()
    assert gateway_paid(b) == "applied"
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_ref == b.reference
    assert gateway_paid(db.session.get(PaymentIntent, a.id)) == "applied"  # the first one's money, late
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_ref == b.reference
    assert wallet.balance(customer) == 4000  # returned, once
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_payment_returned")).one()
    # (in Malay, the default language of mail sent outside a request)
    assert a.reference in mail.subject and "telah pun dibayar" in mail.body_text and "dompet eBiz" in mail.body_text
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    returned = re.findall(r'data-testid="returned-payment">(.*?)</p>', html, re.S)
    assert len(returned) == 1 and a.reference in returned[0] and "returned to your eBiz wallet" in returned[0]
    assert db.session.get(PaymentIntent, a.id).receipt_no in returned[0]
    assert 'data-testid="payment-returned"' in _get(client, f"/payments/{a.reference}")
    assert 'data-testid="payment-returned"' not in _get(client, f"/payments/{b.reference}")
    assert gateway_paid(db.session.get(PaymentIntent, a.id)) == "duplicate"  # a replay returns nothing more
    assert wallet.balance(customer) == 4000


def test_money_that_arrives_twice_without_a_wallet_is_queued_for_refund_and_shown(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=2500))
    a = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=2500, method="card",
                               idempotency_key="tab-a")
    b = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=2500, method="fpx",
                               bank_code="MB2U0227", idempotency_key="tab-b")
    db.session.commit()
    gateway_paid(b)
    gateway_paid(db.session.get(PaymentIntent, a.id))
    refund = db.session.scalars(select(RefundRequest)).one()
    assert refund.intent_id == a.id and refund.amount_sen == 2500
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_payment_returned")).one()
    assert refund.reference in mail.body_text
    client = client_for(app, customer)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}")
    returned = re.findall(r'data-testid="returned-payment">(.*?)</p>', html, re.S)
    assert len(returned) == 1 and refund.reference in returned[0]


def test_when_an_order_is_paid_its_payments_that_never_reached_the_bank_are_closed(app, sandbox_db):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=2500))
    a = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=2500, method="card",
                               idempotency_key="tab-a")
    b = payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=2500, method="card",
                               idempotency_key="tab-b")
    db.session.commit()
    gateway_paid(b)
    db.session.expire_all()
    assert db.session.get(PaymentIntent, a.id).status == "expired"
    assert db.session.get(PaymentIntent, b.id).status == "succeeded"


def _paid_at_once(intent_id, via="callback"):
    intent = db.session.get(PaymentIntent, intent_id)
    if via == "callback":
        gateway_paid(intent)
    else:  # the order page's requery heard "paid" (settle_answers, as _recheck_payments applies it)
        from ebiz.payments.gateway import GatewayResult

        payments.settle_answers([(intent_id, GatewayResult(
            merchant_ref=intent.reference, status="paid", raw_status="00", txn_id="T" + intent.reference,
            amount_sen=intent.amount_sen, currency="MYR"))], source="order_page")


def test_two_payments_of_one_order_confirmed_at_once_pay_it_once_and_return_the_other_once(app, is_postgres,
                                                                                           monkeypatch):
    monkeypatch.setattr("ebiz.notifications.service.deliver", lambda ids=None: (0, 0))  # see test_concurrency
    for tier in (Tier.PRIMARY, Tier.REGULAR):
        customer = make_user(tier=tier)
        dig = digital_product(price_sen=4000) if tier == Tier.PRIMARY else printed_product(price_sen=4000)
        service.add_to_cart(customer, dig.id)
        counter = None
        if dig.type == "printed":
            from tests.factories import make_counter

            counter = make_counter(f"C{secrets.token_hex(2)}", is_hq=False).id
        order = service.checkout(customer, checkout_key=secrets.token_hex(4), accepted=accepted_for(dig),
                                 collect_counter_id=counter)
        intents = [payments.create_intent(customer, kind="order", payable_ref=order.reference, amount_sen=4000,
                                          method="card", idempotency_key=f"tab-{i}") for i in range(2)]
        db.session.commit()
        results = race(app, _paid_at_once, [(intents[0].id, "callback"), (intents[1].id, "requery")])
        db.session.rollback()
        assert results == ["ok", "ok"], results
        got = db.session.get(Order, order.id)
        assert got.status in ("paid", "fulfilled") and got.payment_ref in {i.reference for i in intents}
        other = next(i for i in intents if i.reference != got.payment_ref)
        assert all(db.session.get(PaymentIntent, i.id).status == "succeeded" for i in intents)
        if tier == Tier.PRIMARY:
            assert wallet.balance(customer) == 4000
            assert _count(LedgerPosting, LedgerPosting.idempotency_key == f"refund:return:{other.reference}") == 1
        else:
            refunds = db.session.scalars(select(RefundRequest).where(RefundRequest.user_id == customer.id)).all()
            assert [(r.intent_id, r.amount_sen) for r in refunds] == [(other.id, 4000)]
        # both confirmations again, at once: nothing more is paid or returned
        assert race(app, _paid_at_once, [(i.id,) for i in intents]) == ["ok", "ok"]
        db.session.rollback()
        if tier == Tier.PRIMARY:
            assert wallet.balance(customer) == 4000
        assert _count(RefundRequest, RefundRequest.user_id == customer.id) == (0 if tier == Tier.PRIMARY else 1)
        assert _count(OutboxMessage, OutboxMessage.template == "orders_payment_returned",
                      OutboxMessage.to_address == customer.email) == 1
