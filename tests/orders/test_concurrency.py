"""Concurrent checkouts for the last seat and the last stock, and a double payment race.

Each thread has its own app context (its own scoped session), as separate requests would.
"""

import secrets

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.catalog.models import Product, TrainingSession
from ebiz.extensions import db
from ebiz.orders import service
from ebiz.orders.models import Order
from ebiz.wallet import service as wallet
from tests.factories import make_counter, make_user
from tests.orders.helpers import accepted_for, digital_product, fund, printed_product, training
from tests.races import race

N = 6


@pytest.fixture(autouse=True)
def _no_mail_after_commit(monkeypatch):
    # The outbox sender runs after each commit in its own deferred SQLite transaction (read, then
    # write), which SQLite refuses with "database is locked" while racing writers wait: reported
    # to the lead (notifications). These tests are about reservations; the mail rows are still written.
    monkeypatch.setattr("ebiz.notifications.service.deliver", lambda ids=None: (0, 0))


def _checkout(user_id, product_id, counter_id):
    from ebiz.accounts.models import User

    user = db.session.get(User, user_id)
    product = db.session.get(Product, product_id)
    service.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(product), ip="127.0.0.1",
                     user_agent="race", collect_counter_id=counter_id)


def test_last_seat_goes_to_exactly_one_checkout(app, is_postgres):
    trn, session = training(seats=1)
    users = [make_user(tier=Tier.REGULAR) for _ in range(N)]
    for u in users:
        service.add_to_cart(u, trn.id, session_id=session.id)
    db.session.commit()
    results = race(app, _checkout, [(u.id, trn.id, None) for u in users])
    db.session.rollback()  # end the old snapshot: read what the threads committed
    assert results.count("ok") == 1 and results.count("Conflict") == N - 1, results
    assert db.session.get(TrainingSession, session.id).seats_taken == 1
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_last_stock_goes_to_exactly_one_checkout(app, is_postgres):
    prt = printed_product(stock=2)
    counter = make_counter("SBH", is_hq=False)
    users = [make_user(tier=Tier.REGULAR) for _ in range(N)]
    for u in users:
        service.add_to_cart(u, prt.id, quantity=2)
    db.session.commit()
    results = race(app, _checkout, [(u.id, prt.id, counter.id) for u in users])
    db.session.rollback()  # end the old snapshot: read what the threads committed
    assert results.count("ok") == 1 and results.count("Conflict") == N - 1, results
    assert db.session.get(Product, prt.id).stock == 0
    assert db.session.scalar(select(func.count(Order.id))) == 1


def _pay(order_id, key):
    order = db.session.get(Order, order_id)
    service.pay(order.user, order, method="wallet", idempotency_key=key)


def test_paying_one_order_twice_at_once_debits_once(app, is_postgres):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 20000)
    dig = digital_product(price_sen=4000)
    service.add_to_cart(user, dig.id)
    order = service.checkout(user, checkout_key="k", accepted=accepted_for(dig))
    db.session.commit()
    results = race(app, _pay, [(order.id, f"tab-{i}") for i in range(4)])
    db.session.rollback()  # end the old snapshot: read what the threads committed
    assert results.count("ok") == 1 and results.count("Conflict") == 3, results
    assert wallet.balance(user) == 16000
    assert db.session.get(Order, order.id).status == "fulfilled"


def test_a_double_clicked_checkout_makes_one_order(app, is_postgres):
    prt = printed_product(stock=5)
    counter = make_counter("MLK", is_hq=False)
    user = make_user(tier=Tier.REGULAR)
    service.add_to_cart(user, prt.id)
    db.session.commit()

    def same_key(user_id):
        from ebiz.accounts.models import User

        service.checkout(db.session.get(User, user_id), checkout_key="one-click", accepted={},
                         collect_counter_id=counter.id)

    results = race(app, same_key, [(user.id,), (user.id,)])
    db.session.rollback()
    assert results == ["ok", "ok"], results
    assert db.session.scalar(select(func.count(Order.id))) == 1
    assert db.session.get(Product, prt.id).stock == 4


def test_expiry_racing_a_late_payment_never_drops_the_money(app, is_postgres):
    from datetime import timedelta

    from ebiz.clock import utcnow
    from ebiz.licensing.models import LicenceGrant
    from ebiz.payments.models import PaymentIntent
    from tests.orders.helpers import gateway_paid, pay_online

    user = make_user(tier=Tier.PRIMARY)
    dig = digital_product(price_sen=4000)
    service.add_to_cart(user, dig.id)
    order = service.checkout(user, checkout_key="k", accepted=accepted_for(dig))
    db.session.commit()
    intent = pay_online(order, "card")
    order.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    def expire():
        service.expire_one(order.id)

    def callback():
        gateway_paid(db.session.get(PaymentIntent, intent.id))

    results = race(app, lambda which: which(), [(expire,), (callback,)])
    db.session.rollback()
    assert results == ["ok", "ok"], results
    status = db.session.get(Order, order.id).status
    grants = db.session.scalar(select(func.count(LicenceGrant.id)))
    if status == "fulfilled":  # the payment won: delivered, nothing returned
        assert grants == 1 and wallet.balance(user) == 0
    else:  # the expiry won: the late money went back to the wallet
        assert status == "expired" and grants == 0 and wallet.balance(user) == 4000


def _shrink(session_id, admin_id, seats):
    from ebiz.accounts.models import User

    ts = db.session.get(TrainingSession, session_id)
    service.change_training_session(session_id, actor=db.session.get(User, admin_id), starts_at=ts.starts_at,
                                    ends_at=ts.ends_at, venue=ts.venue, online=ts.online, seats_total=seats)


def test_shrinking_a_session_while_customers_book_never_leaves_more_seats_taken_than_exist(app, is_postgres):
    from ebiz.accounts.models import Role

    trn, session = training(seats=N)
    users = [make_user(tier=Tier.REGULAR) for _ in range(N - 1)]
    for u in users:
        service.add_to_cart(u, trn.id, session_id=session.id)
    admin = make_user(role=Role.ADMIN)
    db.session.commit()
    jobs = [(_checkout, (u.id, trn.id, None)) for u in users] + [(_shrink, (session.id, admin.id, 2))]
    results = race(app, lambda fn, args: fn(*args), jobs)
    db.session.rollback()
    ts = db.session.get(TrainingSession, session.id)
    booked = db.session.scalar(select(func.count(Order.id)))
    assert ts.seats_taken == booked <= ts.seats_total, (results, ts.seats_taken, ts.seats_total)
    shrunk = results[-1] == "ok"
    assert ts.seats_total == (2 if shrunk else N)
    assert results[:-1].count("ok") == booked and all(r in ("ok", "Conflict") for r in results[:-1]), results
    assert shrunk or results[-1] == "ValidationError", results  # refused only because more were taken
