"""Rules a review found missing: an order whose every session is cancelled is refunded (never
fulfilled); paying checks again that the customer may still buy what the order holds; a product
that has been on sale keeps its type; prices and totals stay within what is stored; sessions
start in the future."""

from datetime import timedelta

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.catalog import service as catalog
from ebiz.catalog.models import Product, TrainingSession
from ebiz.clock import utcnow
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from ebiz.orders import service
from ebiz.orders.models import Order
from ebiz.payments.models import RefundRequest
from ebiz.wallet import service as wallet
from tests.factories import make_counter, make_user
from tests.orders.helpers import (
    digital_product,
    fund,
    gateway_paid,
    pay_online,
    pay_wallet,
    place,
    printed_product,
    training,
)


@pytest.fixture(autouse=True)
def _english(app, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")


def test_an_order_whose_sessions_are_cancelled_one_by_one_ends_refunded_not_fulfilled(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 100000)
    (t1, s1), (t2, s2) = training(price_sen=30000), training(price_sen=20000)
    order = place(user, (t1, s1), (t2, s2))
    pay_wallet(order)
    admin = make_user(role=Role.ADMIN)
    service.cancel_training_session(s1.id, actor=admin)
    db.session.commit()
    assert db.session.get(Order, order.id).status == "paid"  # one session left
    service.cancel_training_session(s2.id, actor=admin)
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert order.status == "refunded" and {ln.status for ln in order.lines} == {"cancelled"}
    assert wallet.balance(user) == 100000
    service.fulfil_one(order.id, now=utcnow() + timedelta(days=60))
    assert db.session.get(Order, order.id).status == "refunded"


def test_paying_refuses_restricted_data_whose_access_was_revoked_after_checkout(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 100000)
    admin = make_user(role=Role.ADMIN)
    dig = digital_product(price_sen=4000, restricted=True)
    access = catalog.grant_restricted_access(user.id, dig.id, source_ref="APP-1", granted_by=admin)
    db.session.commit()
    order = place(user, dig)
    catalog.revoke_restricted_access(access.id, actor=admin, reason="Application withdrawn")
    db.session.commit()
    with pytest.raises(Conflict, match="restricted data"):
        service.pay(user, order, method="wallet", idempotency_key="k-1")
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "pending_payment" and wallet.balance(user) == 100000


def test_paying_refuses_a_session_that_has_started(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 100000)
    trn, s = training(price_sen=30000)
    order = place(user, (trn, s))
    ts = db.session.get(TrainingSession, s.id)
    ts.starts_at, ts.ends_at = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=6)
    db.session.commit()
    with pytest.raises(Conflict, match="training session"):
        service.pay(user, db.session.get(Order, order.id), method="wallet", idempotency_key="k-2")


def test_money_arriving_online_for_what_may_no_longer_be_bought_is_returned(app, sandbox_db):
    user = make_user(tier=Tier.REGULAR)
    trn, s = training(price_sen=30000)
    order = place(user, (trn, s))
    intent = pay_online(order, "card")
    ts = db.session.get(TrainingSession, s.id)
    ts.starts_at, ts.ends_at = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=6)
    db.session.commit()
    gateway_paid(intent)  # the bank took the money after the session began
    assert db.session.get(Order, order.id).status == "pending_payment"
    assert [r.amount_sen for r in db.session.query(RefundRequest).filter_by(intent_id=intent.id)] == [30000]


def test_a_product_that_has_been_on_sale_keeps_its_type(app):
    prt = printed_product(price_sen=1500, stock=5)
    admin = make_user(role=Role.ADMIN)
    p = db.session.get(Product, prt.id)
    with pytest.raises(ValidationError) as caught:
        catalog.save_product({"sku": p.sku, "name": p.name, "type": "service", "service_kind": "training",
                              "price_sen": p.price_sen}, actor=admin, product_id=p.id)
    assert caught.value.field == "type"


def test_prices_and_order_totals_stay_within_what_is_stored(app):
    admin = make_user(role=Role.ADMIN)
    with pytest.raises(ValidationError) as caught:
        catalog.save_product({"sku": "BIG-1", "name": "Big", "type": "printed", "price_sen": 3_000_000_000,
                              "stock": 5}, actor=admin)
    assert caught.value.field == "price_sen"
    user = make_user(tier=Tier.REGULAR)
    prt = printed_product(price_sen=catalog.MAX_PRICE_SEN, stock=200)
    service.add_to_cart(user, prt.id, quantity=30)  # 30 x RM 1 million
    db.session.commit()
    with pytest.raises(ValidationError, match="at most"):
        service.checkout(user, checkout_key="big", accepted={}, collect_counter_id=make_counter("KL").id)
    db.session.rollback()
    assert db.session.get(Product, prt.id).stock == 200  # nothing was reserved


def test_a_session_cannot_be_moved_into_the_past(app):
    admin = make_user(role=Role.ADMIN)
    _trn, s = training(price_sen=1000)
    start = utcnow() - timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        catalog.edit_session(s.id, starts_at=start, ends_at=start + timedelta(hours=3), venue="Dewan",
                             online=False, seats_total=10, actor=admin)
    assert caught.value.field == "starts_at"
