"""Paying (wallet and online), settlement, cancellation with refunds, expiry, staff fulfilment."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.catalog.models import Product, TrainingSession
from ebiz.clock import utcnow
from ebiz.delivery.models import Entitlement
from ebiz.errors import Conflict, InsufficientFunds, TierRequired
from ebiz.extensions import db
from ebiz.licensing.models import LicenceGrant
from ebiz.notifications.models import OutboxMessage
from ebiz.orders import service
from ebiz.orders.models import CreditNote, Order
from ebiz.payments import service as payments
from ebiz.payments.models import PaymentIntent, RefundRequest
from ebiz.wallet import service as wallet
from tests.factories import make_counter, make_user
from tests.orders.helpers import (
    count,
    digital_product,
    extraction_service,
    fund,
    gateway_paid,
    pay_online,
    pay_wallet,
    place,
    printed_product,
    training,
)


def test_wallet_payment_issues_grant_and_entitlement_in_one_transaction(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    dig = digital_product(price_sen=4000)
    order = place(user, dig)
    intent = pay_wallet(order)
    db.session.refresh(order)
    assert intent.status == "succeeded" and intent.receipt_no.startswith("RCP-")
    assert order.status == "fulfilled" and order.paid_at and order.payment_ref == intent.reference
    assert wallet.balance(user) == 6000
    grant = db.session.scalars(select(LicenceGrant)).one()
    line = order.lines[0]
    assert (grant.order_line_id, grant.user_id, grant.product_id, grant.version_id) == \
        (line.id, user.id, dig.id, line.version_id)
    assert grant.permitted_use == "Internal planning use" and grant.acceptance_id == line.acceptance_id
    ent = db.session.scalars(select(Entitlement)).one()
    assert ent.grant_id == grant.id and ent.downloads_allowed == 5
    assert line.status == "delivered"
    paid_mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_paid")).one()
    assert grant.number in paid_mail.body_text and paid_mail.to_address == user.email


def test_insufficient_wallet_changes_nothing(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 1000)
    order = place(user, digital_product(price_sen=4000))
    with pytest.raises(InsufficientFunds):
        service.pay(user, order, method="wallet", idempotency_key="x1")
    db.session.rollback()
    db.session.refresh(order)
    assert order.status == "pending_payment" and wallet.balance(user) == 1000
    assert count(LicenceGrant) == 0 and count(PaymentIntent, PaymentIntent.status == "succeeded") == 0


def test_regular_customer_cannot_pay_by_wallet(app):
    user = make_user(tier=Tier.REGULAR)
    order = place(user, printed_product())
    with pytest.raises(TierRequired):
        service.pay(user, order, method="wallet", idempotency_key="x1")
    db.session.rollback()
    assert count(PaymentIntent) == 0 and db.session.get(Order, order.id).status == "pending_payment"


def test_online_payment_settles_through_the_gateway_result(app):
    user = make_user(tier=Tier.REGULAR)
    trn, session = training(price_sen=30000)
    order = place(user, (trn, session))
    intent = pay_online(order, "fpx")
    db.session.refresh(order)
    assert order.status == "pending_payment" and "bank" in service.pending_reason(order)
    assert gateway_paid(intent) == "applied"
    assert gateway_paid(intent) == "duplicate"  # a repeated callback changes nothing
    db.session.refresh(order)
    assert order.status == "paid" and order.payment_method == "fpx"
    assert count(LicenceGrant) == 0  # training terms are accepted, but no data licence is granted
    assert db.session.get(TrainingSession, session.id).seats_taken == 1
    assert [ln.id for ln in service.training_registrations(user)] == [order.lines[0].id]


def test_payment_for_an_expired_order_goes_back_to_the_wallet(app):
    user = make_user(tier=Tier.PRIMARY)
    trn, session = training(price_sen=30000, seats=1)
    order = place(user, (trn, session))
    intent = pay_online(order, "card")
    assert service.expire_due(now=utcnow() + timedelta(days=2)) == [order.reference]
    db.session.commit()
    assert db.session.get(TrainingSession, session.id).seats_taken == 0
    gateway_paid(intent)
    db.session.refresh(order)
    assert order.status == "expired" and order.refund_route == "wallet" and order.refund_sen == 30000
    assert wallet.balance(user) == 30000  # the money is not dropped
    assert count(LicenceGrant) == 0


def test_payment_for_a_cancelled_order_of_a_regular_customer_is_queued_for_staff(app):
    user = make_user(tier=Tier.REGULAR)
    order = place(user, printed_product(price_sen=2500, stock=2))
    intent = pay_online(order, "card")
    service.cancel(order, actor=user)
    db.session.commit()
    gateway_paid(intent)
    refund = db.session.scalars(select(RefundRequest)).one()
    assert refund.amount_sen == 2500 and refund.intent_id == intent.id
    assert db.session.get(Order, order.id).refund_route == "staff"


def test_cancel_unpaid_releases_and_credits_the_invoice(app):
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(stock=3, price_sen=1000)
    trn, session = training(seats=2)
    order = place(user, prt, (trn, session))
    assert db.session.get(Product, prt.id).stock == 2
    service.cancel(order, actor=user, reason="changed my mind")
    db.session.commit()
    assert order.status == "cancelled" and not order.reserved
    assert db.session.get(Product, prt.id).stock == 3
    assert db.session.get(TrainingSession, session.id).seats_taken == 0
    cn = db.session.scalars(select(CreditNote)).one()
    assert cn.amount_sen == order.total_sen and cn.number.startswith("CN-") and cn.invoice_id == order.invoice.id
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_closed")).one()
    assert cn.number in mail.body_text
    with pytest.raises(Conflict):  # a second cancel is refused, and releases nothing twice
        service.cancel(order, actor=user)
    db.session.rollback()
    assert db.session.get(Product, prt.id).stock == 3


def test_cancel_paid_wallet_order_refunds_to_wallet_and_frees_the_seat(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 50000)
    trn, session = training(price_sen=30000, seats=1)
    order = place(user, (trn, session))
    pay_wallet(order)
    assert wallet.balance(user) == 20000
    service.cancel(order, actor=user)
    db.session.commit()
    db.session.refresh(order)
    assert order.status == "refunded" and order.refund_route == "wallet"
    assert wallet.balance(user) == 50000
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_closed")).one()
    assert "RM 300.00" in mail.body_text
    assert db.session.get(TrainingSession, session.id).seats_taken == 0
    assert count(CreditNote) == 1
    assert service.training_registrations(user) == []


def test_cancel_paid_online_order_is_recorded_for_a_staff_refund(app):
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(stock=2, price_sen=2500)
    order = place(user, prt)
    gateway_paid(pay_online(order, "card"))
    service.cancel(order, actor=user)
    db.session.commit()
    refund = db.session.scalars(select(RefundRequest)).one()
    assert refund.amount_sen == 2500 and order.refund_route == "staff" and order.status == "refunded"
    assert db.session.get(Product, prt.id).stock == 2


def test_paid_digital_order_cannot_be_cancelled_by_the_customer(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    order = place(user, digital_product(price_sen=4000), printed_product(price_sen=1000))
    pay_wallet(order)
    assert not service.cancellable_by_customer(order)
    with pytest.raises(Conflict):
        service.cancel(order, actor=user)
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "paid" and wallet.balance(user) == 5000
    # Staff may: the grant is revoked and the money goes back.
    admin = make_user(role=Role.ADMIN)
    service.cancel(db.session.get(Order, order.id), actor=admin, reason="wrong product")
    db.session.commit()
    assert db.session.scalars(select(LicenceGrant)).one().status == "revoked"
    assert wallet.balance(user) == 10000


def test_expiry_releases_only_overdue_unpaid_orders(app):
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(stock=4)
    old = place(user, prt)
    fresh = place(user, prt)
    old.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert db.session.get(Product, prt.id).stock == 2
    assert service.expire_due() == [old.reference]
    db.session.commit()
    assert db.session.get(Order, old.id).status == "expired" and db.session.get(Order, fresh.id).is_open
    assert db.session.get(Product, prt.id).stock == 3
    assert service.expire_due() == []  # nothing twice
    with pytest.raises(Conflict):
        service.pay(user, db.session.get(Order, old.id), method="card", idempotency_key="late")


def test_staff_mark_printed_lines_and_the_order_is_fulfilled(app):
    user = make_user(tier=Tier.REGULAR)
    staff = make_user(role=Role.COUNTER)
    order = place(user, printed_product(price_sen=1000))
    with pytest.raises(Conflict):  # not paid yet
        service.mark_line(order.lines[0].id, "ready", actor=staff)
    db.session.rollback()
    gateway_paid(pay_online(order, "card"))
    line_id = order.lines[0].id
    assert [ln.id for ln in db.session.scalars(service.staff_queue("printed"))] == [line_id]
    service.mark_line(line_id, "ready", actor=staff)
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "orders_ready")) == 1
    service.mark_line(line_id, "collected", actor=staff)
    db.session.commit()
    assert db.session.get(Order, order.id).status == "fulfilled"
    assert list(db.session.scalars(service.staff_queue())) == []


def test_staff_attach_deliverable_to_an_extraction_line(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 50000)
    staff = make_user(role=Role.ADMIN)
    order = place(user, extraction_service(price_sen=20000))
    pay_wallet(order)
    grant = db.session.scalars(select(LicenceGrant)).one()
    assert order.status == "paid" and count(Entitlement) == 0  # nothing to download until staff deliver
    service.attach_deliverable(order.lines[0].id, io.BytesIO(b"a,b\n1,2\n"), "extract.csv", actor=staff)
    db.session.commit()
    assert db.session.get(Order, order.id).status == "fulfilled"
    assert db.session.scalars(select(Entitlement)).one().grant_id == grant.id


def test_demo_seed_pays_an_order_for_the_primary_customer(app):
    from ebiz.orders import demo

    hq = make_counter("HQ")
    make_user(role=Role.COUNTER, counter=hq)
    primary = make_user(tier=Tier.PRIMARY, email="aminah@example.my")
    regular = make_user(tier=Tier.REGULAR, email="tan@example.my")
    digital_product(price_sen=4000)
    training()
    lines = demo.seed()
    db.session.commit()
    paid = db.session.scalars(select(Order).where(Order.user_id == primary.id)).one()
    pending = db.session.scalars(select(Order).where(Order.user_id == regular.id)).one()
    assert paid.status == "fulfilled" and pending.status == "pending_payment"
    assert count(LicenceGrant) == 1 and any(paid.reference in ln for ln in lines)


def test_issued_invoice_never_changes(app):
    from ebiz.orders.models import Invoice, IssuedDocumentError

    user = make_user(tier=Tier.REGULAR)
    order = place(user, printed_product(price_sen=1000))
    inv = db.session.get(Invoice, order.invoice.id)
    inv.total_sen = 1
    with pytest.raises(IssuedDocumentError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(Invoice, order.invoice.id))
    with pytest.raises(IssuedDocumentError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Invoice, order.invoice.id).total_sen == 1000


def test_transitions_allow_only_the_table():
    from types import SimpleNamespace

    from ebiz.orders.models import OrderStatus

    allowed = {(a, b) for a, tos in service.TRANSITIONS.items() for b in tos}
    assert allowed == {("pending_payment", "paid"), ("pending_payment", "cancelled"),
                       ("pending_payment", "expired"), ("paid", "fulfilled"), ("paid", "refunded"),
                       ("fulfilled", "refunded")}
    for a in OrderStatus:
        for b in OrderStatus:
            order = SimpleNamespace(status=a, closed_at=None)
            if (a, b) in allowed:
                service.transition(order, b)
                assert order.status == b
            else:
                with pytest.raises(Conflict):
                    service.transition(order, b)
                assert order.status == a


def test_a_second_payment_for_a_paid_order_is_returned(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    order = place(user, printed_product(price_sen=2500))
    online = pay_online(order, "fpx")  # the customer starts FPX, gives up, and pays by wallet instead
    with pytest.raises(Conflict):  # not while the FPX payment may be in flight (issue 11 §1)
        pay_wallet(order)
    db.session.rollback()
    assert wallet.balance(user) == 10000
    payments.expire(db.session.get(PaymentIntent, online.id), note="abandoned")  # known expired now
    db.session.commit()
    pay_wallet(order)
    assert wallet.balance(user) == 7500
    gateway_paid(online)  # ...then the bank confirms the FPX payment after all
    db.session.refresh(order)
    assert order.status == "paid" and order.payment_method == "wallet"
    assert wallet.balance(user) == 10000  # the second payment went back to the wallet
    assert count(LicenceGrant) == 0 and count(RefundRequest) == 0
