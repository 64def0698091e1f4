"""A cancelled training session closes the orders holding its seats (refunding paid ones); only an
administrator refunds a paid order, with a reason; a checkout names a real, open counter."""

import pytest
from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.catalog.models import TrainingSession
from ebiz.errors import Conflict, Forbidden, ValidationError
from ebiz.extensions import db
from ebiz.orders import service
from ebiz.orders.models import CreditNote, Order
from ebiz.payments import service as payments
from ebiz.payments.models import RefundRequest
from ebiz.wallet import service as wallet
from tests.factories import PASSWORD, csrf_from, make_counter, make_user
from tests.orders.helpers import (
    accepted_for,
    client_for,
    count,
    csrf,
    fund,
    gateway_paid,
    pay_online,
    pay_wallet,
    place,
    printed_product,
    training,
)


def test_cancelling_a_session_closes_and_refunds_the_orders_holding_its_seats(app):
    trn, session = training(price_sen=30000, seats=5)
    unpaid_user, wallet_user, online_user = (make_user(tier=Tier.PRIMARY), make_user(tier=Tier.PRIMARY),
                                             make_user(tier=Tier.REGULAR))
    fund(wallet_user, 50000)
    unpaid = place(unpaid_user, (trn, session))
    by_wallet = place(wallet_user, (trn, session))
    pay_wallet(by_wallet)
    online = place(online_user, (trn, session))
    gateway_paid(pay_online(online, "card"))
    admin = make_user(role=Role.ADMIN)

    touched = service.cancel_training_session(session.id, actor=admin)
    db.session.commit()

    assert sorted(touched) == sorted([unpaid.reference, by_wallet.reference, online.reference])
    assert db.session.get(Order, unpaid.id).status == "cancelled"
    assert db.session.get(Order, by_wallet.id).status == "refunded" and wallet.balance(wallet_user) == 50000
    refund = db.session.scalars(select(RefundRequest)).one()
    assert (refund.user_id, refund.amount_sen, refund.reason_code) == (online_user.id, 30000, "order_cancelled")
    ts = db.session.get(TrainingSession, session.id)
    assert ts.cancelled and ts.seats_taken == 0
    assert count(CreditNote) == 3
    with pytest.raises(Conflict):  # twice is once
        service.cancel_training_session(session.id, actor=admin)
    db.session.rollback()
    assert wallet.balance(wallet_user) == 50000 and wallet.verify() == []


def test_a_cancelled_session_refunds_only_its_lines_of_a_mixed_order(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 50000)
    trn, session = training(price_sen=30000)
    prt = printed_product(price_sen=2000, stock=3)
    order = place(user, (trn, session), prt)
    pay_wallet(order)
    assert wallet.balance(user) == 18000
    service.cancel_training_session(session.id, actor=make_user(role=Role.ADMIN))
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert order.status == "paid"  # the map is still to be collected
    assert {ln.product_type: ln.status for ln in order.lines} == {"service": "cancelled", "printed": "paid"}
    assert wallet.balance(user) == 48000 and order.refund_sen == 30000
    cn = db.session.scalars(select(CreditNote)).one()
    assert cn.amount_sen == 30000
    assert wallet.verify() == []


@pytest.mark.parametrize("others_seated", [0, 1])
def test_cancelling_the_rest_of_a_partly_refunded_order_refunds_only_what_is_left(app, others_seated):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 50000)
    trn, session = training(price_sen=30000, taken=others_seated)
    order = place(user, (trn, session), printed_product(price_sen=2000, stock=3))
    pay_wallet(order)
    service.cancel_training_session(session.id, actor=make_user(role=Role.ADMIN))
    db.session.commit()
    assert wallet.balance(user) == 48000
    order = db.session.get(Order, order.id)
    assert service.cancellable_by_customer(order)
    service.cancel(order, actor=user)  # the map too
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert order.status == "refunded" and order.refund_sen == 32000 and wallet.balance(user) == 50000
    assert db.session.get(TrainingSession, session.id).seats_taken == others_seated  # its seat went back once
    assert sorted(cn.amount_sen for cn in db.session.scalars(select(CreditNote))) == [2000, 30000]
    assert wallet.verify() == []


def test_an_online_order_partly_refunded_then_cancelled_queues_no_more_than_was_paid(app):
    user = make_user(tier=Tier.REGULAR)
    trn, session = training(price_sen=30000, taken=1)
    order = place(user, (trn, session), printed_product(price_sen=2000, stock=3))
    intent = pay_online(order, "card")
    gateway_paid(intent)
    service.cancel_training_session(session.id, actor=make_user(role=Role.ADMIN))
    db.session.commit()
    service.cancel(db.session.get(Order, order.id), actor=user)
    db.session.commit()
    assert sorted(r.amount_sen for r in db.session.scalars(select(RefundRequest))) == [2000, 30000]
    with pytest.raises(Conflict):  # the queue itself never takes more than the payment
        payments.queue_refund(intent, 1, "order_cancelled", key="one-sen-more")
    db.session.rollback()


def test_a_new_checkout_cannot_take_a_seat_of_a_cancelled_session(app):
    trn, session = training()
    user = make_user(tier=Tier.REGULAR)
    service.add_to_cart(user, trn.id, session_id=session.id)
    db.session.commit()
    service.cancel_training_session(session.id, actor=make_user(role=Role.ADMIN))
    db.session.commit()
    with pytest.raises(Conflict):
        service.checkout(user, checkout_key="k1", accepted=accepted_for(trn))
    db.session.rollback()
    assert count(Order) == 0 and db.session.get(TrainingSession, session.id).seats_taken == 0


def test_only_an_administrator_cancels_a_session(app):
    _, session = training()
    counter_staff = make_user(role=Role.COUNTER, counter=make_counter("HQ"))
    with pytest.raises(Forbidden):
        service.cancel_training_session(session.id, actor=counter_staff)
    db.session.rollback()
    assert not db.session.get(TrainingSession, session.id).cancelled


def test_the_session_cancel_page_is_for_administrators(app):
    trn, session = training()
    admin = make_user(role=Role.ADMIN)
    staff = client_for(app, make_user(role=Role.COUNTER, counter=make_counter("HQ")))
    token = csrf(staff, "/orders/staff")
    assert staff.post(f"/orders/staff/sessions/{session.id}/cancel", data={"csrf_token": token}).status_code in (
        302, 403)
    assert not db.session.get(TrainingSession, session.id).cancelled
    client = client_for(app, admin)
    token = csrf(client, f"/catalog/admin/{trn.id}")
    r = client.post(f"/orders/staff/sessions/{session.id}/cancel", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).cancelled


def test_refunding_a_paid_order_needs_an_administrator_and_a_reason(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    order = place(user, printed_product(price_sen=4000))
    pay_wallet(order)
    counter_staff = make_user(role=Role.COUNTER, counter=make_counter("SGR", is_hq=False))
    with pytest.raises(Forbidden):
        service.cancel(order, actor=counter_staff, reason="customer asked")
    db.session.rollback()
    admin = make_user(role=Role.ADMIN)
    with pytest.raises(ValidationError):
        service.cancel(db.session.get(Order, order.id), actor=admin, reason="  ")
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "paid" and wallet.balance(user) == 6000
    service.cancel(db.session.get(Order, order.id), actor=admin, reason="map out of print")
    db.session.commit()
    assert wallet.balance(user) == 10000


def test_on_their_own_order_staff_are_customers_and_act_only_after_totp(app):
    admin = make_user(role=Role.ADMIN, mfa=False)  # just promoted: TOTP not enrolled yet
    order = place(admin, printed_product(price_sen=4000))
    gateway_paid(pay_online(order, "card"))
    clerk = make_user(role=Role.COUNTER, counter=make_counter("SGR", is_hq=False))
    for to in ("ready", "collected"):
        service.mark_line(db.session.get(Order, order.id).lines[0].id, to, actor=clerk)
    db.session.commit()
    with pytest.raises(Conflict):  # collected: a customer could not cancel it, nor can its admin owner
        service.cancel(db.session.get(Order, order.id), actor=admin, reason="mine")
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "fulfilled"
    assert db.session.scalar(select(RefundRequest)) is None

    client = app.test_client()  # signed in by password, sent to enrol TOTP
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": admin.email,
                                            "password": PASSWORD})
    assert r.headers["Location"].endswith("/account/mfa")
    page = client.get(f"/orders/{order.reference}")
    assert page.status_code == 403
    token = csrf_from(client.get("/account/mfa").data)  # the enrolment page carries the session's token
    r = client.post(f"/orders/{order.reference}/cancel", data={"csrf_token": token, "reason": "mine"})
    assert r.status_code == 403 and db.session.get(Order, order.id).status == "fulfilled"


@pytest.mark.parametrize("counter_id", [999_999, -1, 0])
def test_checkout_with_an_unknown_counter_is_refused_beside_the_field(app, counter_id):
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(stock=2)
    with pytest.raises(ValidationError) as exc:
        place(user, prt, counter=counter_id)
    assert exc.value.field == "collect_counter_id"
    db.session.rollback()
    assert count(Order) == 0


def test_checkout_at_a_closed_counter_is_refused(app):
    user = make_user(tier=Tier.REGULAR)
    closed = make_counter("PRK", is_hq=False)
    closed.active = False
    db.session.commit()
    with pytest.raises(ValidationError):
        place(user, printed_product(stock=2), counter=closed.id)
    db.session.rollback()
    assert count(Order) == 0


def test_an_overdue_unpaid_order_gives_its_last_seat_to_a_new_checkout(app):
    """Without `flask orders expire` from cron, the checkout itself frees what overdue orders hold."""
    from datetime import timedelta

    from ebiz.clock import utcnow

    trn, session = training(seats=1)
    prt = printed_product(stock=1)
    first, second = make_user(tier=Tier.REGULAR), make_user(tier=Tier.REGULAR)
    for product, sid in ((trn, session.id), (prt, None)):
        service.add_to_cart(second, product.id, session_id=sid)  # in the cart while both were free
    db.session.commit()
    held = place(first, (trn, session), prt)
    later = utcnow() + timedelta(seconds=app.config["ORDER_TTL_SECONDS"] + 60)
    order = service.checkout(second, checkout_key="k2", accepted=accepted_for(trn),
                             collect_counter_id=held.collect_counter_id, now=later)
    db.session.commit()
    assert db.session.get(Order, held.id).status == "expired"
    assert order.status == "pending_payment" and db.session.get(TrainingSession, session.id).seats_taken == 1


def test_a_full_session_in_the_cart_page_frees_the_seat_of_an_overdue_order(app):
    from datetime import timedelta

    trn, session = training(seats=1)
    held = place(make_user(tier=Tier.REGULAR), (trn, session))
    held.expires_at -= timedelta(seconds=app.config["ORDER_TTL_SECONDS"] + 60)  # its time to pay is over
    db.session.commit()
    service.add_to_cart(make_user(tier=Tier.REGULAR), trn.id, session_id=session.id)
    db.session.commit()
    assert db.session.get(Order, held.id).status == "expired"
