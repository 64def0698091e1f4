"""Wallet pages: top-up form, statement with running balance, date filter and CSV; staff pages."""

from datetime import timedelta

from sqlalchemy import select

from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.payments.models import PaymentIntent
from ebiz.wallet import service as wallet
from ebiz.wallet.models import WalletAdjustment
from tests.factories import make_user
from tests.payments.helpers import csrf, csrf_from, sign_in

from .helpers import fund, spend


def test_topup_form_validates_and_sends_to_the_gateway(app, client):
    user = make_user(tier="primary")
    sign_in(client, user)
    html = client.get("/wallet/topup").get_data(as_text=True)
    nonce = html.split('name="nonce" type="hidden" value="')[1].split('"')[0]
    base = {"csrf_token": csrf_from(html), "method": "fpx", "bank_code": "MB2U0227", "nonce": nonce}
    r = client.post("/wallet/topup", data={**base, "amount": "5.00"})
    assert r.status_code == 200 and "smallest top-up" in r.get_data(as_text=True)
    r = client.post("/wallet/topup", data={**base, "amount": "abc"})
    assert "Enter an amount" in r.get_data(as_text=True)
    r = client.post("/wallet/topup", data={**base, "amount": "50", "bank_code": ""})
    assert "Choose your bank" in r.get_data(as_text=True)
    assert db.session.scalar(select(PaymentIntent)) is None
    r = client.post("/wallet/topup", data={**base, "amount": "50"})
    assert r.status_code == 302 and "/sandbox-gateway/pay?" in r.headers["Location"]
    # The same form submitted twice (double click) makes one intent.
    r2 = client.post("/wallet/topup", data={**base, "amount": "50"})
    assert r2.status_code == 302
    assert len(db.session.scalars(select(PaymentIntent)).all()) == 1


def test_statement_running_balance_filter_and_csv(app, client, monkeypatch):
    import ebiz.wallet.ledger as wallet_ledger

    user = make_user(tier="primary")
    ten_days_ago = utcnow() - timedelta(days=10)
    with monkeypatch.context() as m:  # the first top-up happened ten days ago (entries never change later)
        m.setattr(wallet_ledger, "utcnow", lambda: ten_days_ago)
        fund(user, 5000, receipt_no="OLD-1")
    spend(user, 1250)
    db.session.commit()
    wallet.refund_to_wallet(user, 250, idempotency_key="r1", memo="EBZ-ORD-X")
    db.session.commit()
    sign_in(client, user)
    page = client.get("/wallet/statement").get_data(as_text=True)
    for amount in ("RM 50.00", "RM 37.50", "RM 40.00"):
        assert amount in page
    today = (utcnow() + timedelta(hours=8)).date().isoformat()
    page = client.get(f"/wallet/statement?date_from={today}&date_to={today}").get_data(as_text=True)
    assert "OLD-1" not in page and "Refund for EBZ-ORD-X" in page
    csv = client.get(f"/wallet/statement?date_from={today}&format=csv").get_data(as_text=True).splitlines()
    assert csv[0] == "date_myt,type,description,amount_rm,balance_rm"
    assert csv[1] == ",opening,,,50.00"
    assert csv[2].split(",")[1:] == ["spend", "Payment from the wallet for T-1", "-12.50", "37.50"]
    assert csv[3].split(",")[-2:] == ["2.50", "40.00"]


def test_staff_adjustment_pages_maker_checker(app, client):
    maker, checker = make_user(role="support_agent"), make_user(role="admin")
    customer = make_user(tier="primary", email="kedai@example.my")
    sign_in(client, maker)
    token = csrf(client, "/wallet/staff/adjustments")
    r = client.post("/wallet/staff/adjustments", data={"csrf_token": token, "customer": "KEDAI@example.my",
                                                       "amount": "12.50", "reason": "Goodwill"})
    assert r.status_code == 302
    adj = db.session.scalar(select(WalletAdjustment))
    page = client.get("/wallet/staff/adjustments").get_data(as_text=True)
    assert adj.reference in page and "Another staff member must decide" in page
    r = client.post(f"/wallet/staff/adjustments/{adj.reference}", data={"csrf_token": token, "decision": "approve"},
                    follow_redirects=True)
    assert "Another staff member must approve" in r.get_data(as_text=True)
    assert wallet.balance(customer) == 0
    client.post("/account/logout", data={"csrf_token": token})
    client2 = app.test_client()
    sign_in(client2, checker)
    token = csrf(client2, "/wallet/staff/adjustments")
    client2.post(f"/wallet/staff/adjustments/{adj.reference}", data={"csrf_token": token, "decision": "approve"})
    assert wallet.balance(customer) == 1250


def test_staff_pages_refuse_customers(app, client):
    sign_in(client, make_user(tier="primary"))
    for path in ("/wallet/staff/adjustments", "/payments/staff/refunds", "/payments/staff/review"):
        assert client.get(path).status_code == 403


def test_refund_queue_page_resolves_an_entry(app, client):
    from ebiz.payments import service as payments
    from ebiz.payments.models import RefundRequest
    from tests.payments.helpers import topup_intent

    customer = make_user(tier="primary")
    intent = topup_intent(customer, 2000)
    payments.queue_refund(intent, 2000, "order_unpayable", "EBZ-ORD-TEST")
    payments.queue_refund(intent, 2000, "order_unpayable", "EBZ-ORD-TEST")  # idempotent
    db.session.commit()
    staff = make_user(role="admin")
    sign_in(client, staff)
    page = client.get("/payments/staff/refunds").get_data(as_text=True)
    refund = db.session.scalar(select(RefundRequest))
    assert refund.reference in page and len(db.session.scalars(select(RefundRequest)).all()) == 1
    r = client.post(f"/payments/staff/refunds/{refund.reference}",
                    data={"csrf_token": csrf_from(page), "note": "IBG transfer 998877"})
    assert r.status_code == 302
    db.session.expire_all()
    refund = db.session.scalar(select(RefundRequest))
    assert refund.status == "done" and refund.resolved_by_id == staff.id


def test_statement_says_when_its_dates_cannot_be_used(app, client):
    user = make_user(tier="primary")
    fund(user, 5000, receipt_no="HQ-77")
    sign_in(client, user)
    client.set_cookie("lang", "en")
    today = (utcnow() + timedelta(hours=8)).date()
    page = client.get(f"/wallet/statement?date_from={today - timedelta(days=1)}&date_to={today - timedelta(days=9)}"
                      ).get_data(as_text=True)
    assert "The end date is before the start date." in page and "HQ-77" in page  # the end date is ignored
    client.set_cookie("lang", "ms")
    page = client.get("/wallet/statement?date_from=x").get_data(as_text=True)
    assert "Tarikh tidak sah." in page and "Not a valid date value." not in page
