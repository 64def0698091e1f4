"""Counter sales (cash, card terminal, wallet; the runner's cap), collection and the day-end report."""

import csv
import io
import secrets

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.catalog.models import Product
from ebiz.clock import to_local, utcnow
from ebiz.companies.models import RunnerOtp
from ebiz.counter import service as counter_service
from ebiz.counter.models import Collection, CounterSale
from ebiz.errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.orders import service as orders
from ebiz.orders.models import LineStatus, Order, OrderLine
from ebiz.payments.models import PaymentIntent
from ebiz.wallet import service as wallet
from tests.companies.helpers import RUNNER_MYKAD, company, otp_for, redeem, staff_at
from tests.factories import csrf_from, make_user, sign_in
from tests.orders.helpers import fund, printed_product
from tests.races import race


@pytest.fixture(autouse=True)
def _no_mail_after_commit(monkeypatch):
    # As tests/orders/test_concurrency.py: the inline outbox sender after each commit makes SQLite
    # refuse racing writers; the mail rows are still written.
    monkeypatch.setattr("ebiz.notifications.service.deliver", lambda ids=None: (0, 0))


def _sell(staff, customer, product, *, method="cash", quantity=1, session=None, approval_code="", key=None):
    ts = product.sessions[0].id if product.type == "service" else None
    sale, _created = counter_service.sell(staff, customer, items=[(product.id, ts, quantity)], method=method,
                                          approval_code=approval_code, sale_key=key or secrets.token_hex(8),
                                          session=session)
    db.session.commit()
    return sale


def test_cash_card_and_wallet_sales_use_the_online_path_and_agree_with_the_ledger(app):
    staff, counter = staff_at("SGR")
    person = make_user(tier=Tier.PRIMARY)
    fund(person, 10000)
    map_ = printed_product(price_sen=1500, stock=10)
    cash = _sell(staff, person, map_, quantity=2)
    card = _sell(staff, person, map_, method="terminal", approval_code="a1b2c3")
    paid_by_wallet = _sell(staff, person, map_, method="wallet")
    assert [s.amount_sen for s in (cash, card, paid_by_wallet)] == [3000, 1500, 1500]
    assert card.approval_code == "A1B2C3"
    assert db.session.get(Product, map_.id).stock == 6
    assert wallet.balance(person) == 8500
    for sale in (cash, card, paid_by_wallet):
        order = db.session.scalar(select(Order).where(Order.reference == sale.order_reference))
        intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == sale.payment_ref))
        assert order.status in ("paid", "fulfilled") and order.invoice is not None
        assert intent.receipt_no == sale.receipt_no and intent.counter_code == "SGR"
        assert {ln.status for ln in order.lines} == {LineStatus.COLLECTED}  # handed over at once
    templates = db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.to_address == person.email)).all()
    assert templates.count("orders_invoice") == 3 and templates.count("payments_receipt") == 3
    receipt = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "payments_receipt"))
    assert counter.name in receipt.body_text
    assert wallet.account_total("counter_cash:SGR", utcnow().replace(year=2000), utcnow().replace(year=2100)) == -3000
    report = counter_service.day_end(staff, to_local(utcnow()).date())
    assert report["totals"] == {"cash": 3000, "terminal": 1500, "wallet": 1500} == report["ledger"]
    assert report["agrees"] and report["total"] == 6000 and len(report["sales"]) == 3
    assert wallet.verify() == []
    result = app.test_cli_runner().invoke(args=["wallet", "verify"])
    assert result.exit_code == 0, result.output


def test_day_end_page_and_csv(app):
    staff, _counter = staff_at("SGR")
    person = make_user()
    map_ = printed_product(price_sen=1500)
    _sell(staff, person, map_)
    client = app.test_client()
    sign_in(client, staff)
    html = client.get("/counter/day-end").get_data(as_text=True)
    assert 'data-testid="day-end-agrees"' in html and "RM 15.00" in html
    rows = list(csv.reader(io.StringIO(client.get("/counter/day-end.csv").get_data(as_text=True))))
    assert rows[1][-1] == "15.00" and rows[-1][-1] == "15.00"
    other, _ = staff_at("JHR")  # another counter's report has none of it
    assert counter_service.day_end(other, to_local(utcnow()).date())["total"] == 0


def test_a_refunded_counter_sale_is_listed_apart_from_the_takings(app):
    staff, _ = staff_at("SGR")
    person = make_user(tier=Tier.PRIMARY)
    fund(person, 5000)
    map_ = printed_product(price_sen=1500)
    kept = _sell(staff, person, map_)
    refunded = _sell(staff, person, map_, method="wallet")
    order = db.session.scalar(select(Order).where(Order.reference == refunded.order_reference))
    orders.cancel(order, actor=make_user(role="admin"), reason="Wrong sheet sold")
    db.session.commit()
    report = counter_service.day_end(staff, to_local(utcnow()).date())
    assert [cn.invoice.order.reference for cn in report["refunds"]] == [refunded.order_reference]
    assert report["refund_total"] == 1500 and report["agrees"]
    assert report["totals"] == {"cash": 1500, "terminal": 0, "wallet": 1500} and kept.amount_sen == 1500
    assert wallet.balance(person) == 5000 and wallet.verify() == []


def test_a_training_seat_sold_at_the_counter_takes_a_seat(app):
    from ebiz.catalog.models import TrainingSession
    from tests.orders.helpers import training

    staff, _ = staff_at()
    person = make_user()
    course, session = training(price_sen=30000, seats=1)
    client = app.test_client()
    sign_in(client, staff)
    page = client.get(f"/counter/customers/{person.id}")
    assert f'value="{course.id}:{session.id}"' in page.get_data(as_text=True)
    data = {"csrf_token": csrf_from(page.data), "item": f"{course.id}:{session.id}", "quantity": "1",
            "method": "terminal", "approval_code": "", "sale_key": "t1"}
    r = client.post(f"/counter/customers/{person.id}/sell", data=data)
    assert r.status_code == 400 and 'id="approval_code-error"' in r.get_data(as_text=True)
    assert db.session.get(TrainingSession, session.id, populate_existing=True).seats_taken == 0
    r = client.post(f"/counter/customers/{person.id}/sell", data={**data, "approval_code": "778899"})
    assert r.status_code == 400 and 'id="terms_accepted-error"' in r.get_data(as_text=True)  # terms not accepted
    r = client.post(f"/counter/customers/{person.id}/sell", data={**data, "approval_code": "778899",
                                                                  "terms_accepted": "y"})
    assert r.status_code == 302
    assert db.session.get(TrainingSession, session.id, populate_existing=True).seats_taken == 1
    sale = db.session.scalar(select(CounterSale))
    assert (sale.method, sale.approval_code, sale.amount_sen) == ("terminal", "778899", 30000)
    with pytest.raises(Conflict):  # the last seat is gone: the same rules as online
        counter_service.sell(staff, make_user(), items=[(course.id, session.id, 1)], method="cash", sale_key="t2",
                             terms_accepted=True)


def test_refused_sales_change_nothing(app):
    staff, _ = staff_at()
    regular = make_user()
    map_ = printed_product(price_sen=1500, stock=1)
    cases = [
        (dict(method="wallet"), TierRequired),
        (dict(method="terminal", approval_code=""), ValidationError),
        (dict(method="cheque"), ValidationError),
        (dict(quantity=2), Conflict),  # one left
    ]
    for fields, error in cases:
        with pytest.raises(error):
            _sell(staff, regular, map_, **fields)
        db.session.rollback()
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.scalar(select(func.count(CounterSale.id))) == 0
    assert db.session.get(Product, map_.id).stock == 1


def test_the_same_sale_key_is_one_sale(app):
    staff, _ = staff_at()
    person = make_user()
    map_ = printed_product(price_sen=1500)
    first = _sell(staff, person, map_, key="k1")
    again, created = counter_service.sell(staff, person, items=[(map_.id, None, 1)], method="cash", sale_key="k1")
    assert again.id == first.id and not created
    assert db.session.scalar(select(func.count(PaymentIntent.id))) == 1


def test_runner_buys_from_the_company_wallet_within_the_cap(app):
    co = company(tier=Tier.PRIMARY)
    fund(co, 10000)
    otp, code = otp_for(co, may_buy=True, may_use_wallet=True, cap_sen=2000)
    staff, _ = staff_at()
    rs = redeem(staff, co, code)
    db.session.commit()
    map_ = printed_product(price_sen=1500, stock=5)
    sale = _sell(staff, co, map_, method="wallet", session=rs)
    assert sale.runner_session_id == rs.id and wallet.balance(co) == 8500
    assert db.session.get(RunnerOtp, otp.id, populate_existing=True).spent_sen == 1500
    with pytest.raises(Conflict, match="cap"):
        _sell(staff, co, map_, method="wallet", session=rs)  # 1500 more is over the 2000 cap
    db.session.rollback()
    assert wallet.balance(co) == 8500 and db.session.get(Product, map_.id, populate_existing=True).stock == 4
    assert db.session.scalar(select(func.count(CounterSale.id))) == 1
    collected = db.session.scalar(select(Collection))
    assert (collected.collected_by, collected.collector_id_no) == ("runner", RUNNER_MYKAD)


def test_the_mandate_limits_what_a_runner_does(app):
    co = company(tier=Tier.PRIMARY)
    fund(co, 10000)
    _otp, code = otp_for(co)  # collection only
    staff, _ = staff_at()
    rs = redeem(staff, co, code)
    db.session.commit()
    with pytest.raises(Forbidden):
        _sell(staff, co, printed_product(), session=rs)
    db.session.rollback()
    _otp2, code2 = otp_for(co, may_buy=True, cap_sen=5000)  # buys, but not from the wallet
    rs2 = redeem(staff, co, code2)
    db.session.commit()
    with pytest.raises(Forbidden, match="wallet"):
        _sell(staff, co, printed_product(), method="wallet", session=rs2)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Order.id))) == 0 and wallet.balance(co) == 10000


def _runner_sale(staff_id, company_id, session_id, product_id):
    from ebiz.accounts.models import User
    from ebiz.counter.models import RunnerSession

    counter_service.sell(db.session.get(User, staff_id), db.session.get(User, company_id),
                         items=[(product_id, None, 1)], method="wallet", sale_key=secrets.token_hex(8),
                         session=db.session.get(RunnerSession, session_id))


def test_two_sales_that_together_exceed_the_cap_one_succeeds(app, is_postgres):
    co = company(tier=Tier.PRIMARY)
    fund(co, 10000)
    otp, code = otp_for(co, may_buy=True, may_use_wallet=True, cap_sen=2000)
    staff, _ = staff_at()
    rs = redeem(staff, co, code)
    db.session.commit()
    map_ = printed_product(price_sen=1500, stock=5)
    results = race(app, _runner_sale, [(staff.id, co.id, rs.id, map_.id)] * 2)
    db.session.rollback()
    assert sorted(results) == ["Conflict", "ok"], results
    assert db.session.get(RunnerOtp, otp.id).spent_sen == 1500
    assert wallet.balance(co) == 8500 and db.session.get(Product, map_.id).stock == 4
    assert db.session.scalar(select(func.count(CounterSale.id))) == 1
    assert wallet.verify() == []


def _ready_order(customer, counter, product):
    orders.add_to_cart(customer, product.id)
    order = orders.checkout(customer, checkout_key=secrets.token_hex(8), accepted={}, collect_counter_id=counter.id)
    orders.pay(customer, order, method="wallet", idempotency_key=secrets.token_hex(8))
    line = order.lines[0]
    admin = make_user(role="admin")
    orders.mark_line(line.id, LineStatus.READY, actor=admin)
    db.session.commit()
    return order, line


def test_runner_collects_a_ready_order_and_the_company_sees_it(app):
    co = company(tier=Tier.PRIMARY)
    fund(co, 10000)
    staff, counter = staff_at()
    order, line = _ready_order(co, counter, printed_product(price_sen=1500))
    otp, code = otp_for(co)
    client = app.test_client()
    sign_in(client, staff)
    rs = redeem(staff, co, code)
    db.session.commit()
    page = client.get(f"/counter/runners/{rs.reference}")
    assert f'data-testid="hand-over-{line.id}"' in page.get_data(as_text=True)
    r = client.post(f"/counter/runners/{rs.reference}/collect/{line.id}", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 302
    assert db.session.get(OrderLine, line.id, populate_existing=True).status == LineStatus.COLLECTED
    c = db.session.scalar(select(Collection))
    assert (c.collected_by, c.runner_session_id, c.staff_id, c.counter_id) == ("runner", rs.id, staff.id, counter.id)
    company_client = app.test_client()
    sign_in(company_client, co)
    html = company_client.get("/company/runners").get_data(as_text=True)
    assert order.reference in html and counter.name in html


def test_customer_collects_only_with_their_own_document_at_their_counter(app):
    person = make_user(tier=Tier.PRIMARY, mykad="850615105523")
    fund(person, 10000)
    staff, counter = staff_at("SGR")
    _order, line = _ready_order(person, counter, printed_product(price_sen=1500))
    elsewhere, _ = staff_at("JHR")
    with pytest.raises(NotFound):  # not waiting at that counter
        counter_service.collect(elsewhere, person, line.id, collected_by="customer", collector_id_no="850615105523")
    db.session.rollback()
    with pytest.raises(ValidationError):
        counter_service.collect(staff, person, line.id, collected_by="customer", collector_id_no="900101145678")
    db.session.rollback()
    assert db.session.get(OrderLine, line.id).status == LineStatus.READY
    counter_service.collect(staff, person, line.id, collected_by="customer", collector_id_no="850615-10-5523")
    db.session.commit()
    assert db.session.scalar(select(Collection)).collector_name == person.full_name


def _twin_sale(staff_id, customer_id, product_id):
    from ebiz.accounts.models import User

    counter_service.sell(db.session.get(User, staff_id), db.session.get(User, customer_id),
                         items=[(product_id, None, 1)], method="wallet", sale_key="double-click")


def test_a_sale_submitted_twice_at_once_is_one_sale(app, is_postgres):
    staff, _ = staff_at()
    person = make_user(tier=Tier.PRIMARY)
    fund(person, 5000)
    map_ = printed_product(price_sen=1500, stock=5)
    results = race(app, _twin_sale, [(staff.id, person.id, map_.id)] * 2)
    db.session.rollback()
    assert results.count("ok") >= 1 and set(results) <= {"ok", "Conflict"}, results
    assert db.session.scalar(select(func.count(CounterSale.id))) == 1
    assert db.session.scalar(select(func.count(PaymentIntent.id))) == 1
    assert db.session.get(Product, map_.id).stock == 4 and wallet.balance(person) == 3500
    assert wallet.verify() == []
