"""The staff review queue, the sandbox's corporate approver page, pending texts, "go to the payment
page" and unknown gateways."""

import json
from html import unescape

import pytest
from sqlalchemy import func, select

from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.payments import service as payments
from ebiz.payments.gateway import get_gateway
from ebiz.payments.models import IntentStatus, PaymentEvent
from ebiz.payments.sandbox import store
from ebiz.wallet import service as wallet
from tests.factories import login_session, make_user

from .helpers import (
    bank_answers,
    csrf,
    csrf_from,
    fresh,
    go_to_gateway,
    post_callback,
    sign_in,
    start_topup,
    submit_gateway,
    topup_intent,
)


def _events(intent=None):
    q = select(func.count()).select_from(PaymentEvent)
    if intent is not None:
        q = q.where(PaymentEvent.intent_id == intent.id)
    return db.session.scalar(q)


def _reviewed_events():
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.reviewed")).all()


def _paid_after_expiry(app, client, amount=3000):
    """A top-up whose bank callback arrives after the intent expired: credited and flagged for staff."""
    customer = make_user(tier="primary")
    intent = topup_intent(customer, amount)
    body, headers = bank_answers(app, intent, "00")
    intent.expires_at = utcnow()
    db.session.commit()
    payments.expire(intent)
    db.session.commit()
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review
    return customer, intent


# ------------------------------------------------------------------ staff review queue

def test_a_late_payment_is_on_the_review_queue_until_an_administrator_marks_it_reviewed(app, client):
    customer, intent = _paid_after_expiry(app, client)
    admin = make_user(role="admin")
    sign_in(client, admin)
    page = client.get("/payments/staff/review")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    queue = html.split('data-testid="review-queue"')[1].split("</table>")[0]
    assert intent.reference in queue and intent.receipt_no in queue and "RM 30.00" in queue
    assert "Paid after the payment had expired" in queue and "paid_after_expired" not in queue
    assert f'action="/payments/staff/review/{intent.reference}"' in queue
    # Without the form's CSRF token nothing happens.
    assert client.post(f"/payments/staff/review/{intent.reference}", data={}).status_code == 400
    assert fresh(intent).needs_review and _reviewed_events() == []
    r = client.post("/payments/staff/review/EBZ-PAY-NONE-NONE", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 404 and _reviewed_events() == []
    r = client.post(f"/payments/staff/review/{intent.reference}", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/payments/staff/review")
    reviewed = fresh(intent)
    assert not reviewed.needs_review
    assert reviewed.status == IntentStatus.SUCCEEDED and wallet.balance(customer) == 3000
    [event] = _reviewed_events()
    assert event.actor_id == admin.id and event.target_type == "PaymentIntent"
    assert event.target_id == str(intent.id) and event.details["reference"] == intent.reference
    queue = client.get("/payments/staff/review").get_data(as_text=True).split('data-testid="review-queue"')[1]
    queue = queue.split("</table>")[0]
    assert intent.reference not in queue and "Nothing to review." in queue
    r = client.post(f"/payments/staff/review/{intent.reference}", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302 and len(_reviewed_events()) == 1  # a second click records nothing more


def test_customers_and_unverified_staff_cannot_see_or_clear_the_review_queue(app, client):
    customer, intent = _paid_after_expiry(app, client)
    admin = make_user(role="admin")
    sign_in(client, admin)
    token = csrf(client, "/payments/staff/review")
    for user in (customer, make_user(tier="primary"), make_user(role="counter_staff")):
        other = app.test_client()
        sign_in(other, user)
        assert other.get("/payments/staff/review").status_code == 403
        # (the token of a staff page is no use to them either)
        r = other.post(f"/payments/staff/review/{intent.reference}",
                       data={"csrf_token": csrf(other, "/payments/history")})
        assert r.status_code == 403
    # An administrator who has not passed the TOTP step is sent to it.
    unverified = app.test_client()
    login_session(unverified, admin, mfa=False)
    r = unverified.get("/payments/staff/review")
    assert r.status_code == 302 and "/account/mfa" in r.headers["Location"]
    r = unverified.post(f"/payments/staff/review/{intent.reference}",
                        data={"csrf_token": csrf(unverified, "/payments/history")})
    assert r.status_code == 302 and "/account/mfa" in r.headers["Location"]
    # Signed out: the sign-in page.
    r = app.test_client().get("/payments/staff/review")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]
    assert fresh(intent).needs_review and _reviewed_events() == []
    # The administrator's own session still works afterwards.
    r = client.post(f"/payments/staff/review/{intent.reference}", data={"csrf_token": token})
    assert r.status_code == 302 and not fresh(intent).needs_review


# ------------------------------------------------------------------ sandbox: corporate second approver

def _corporate_payment_awaiting_approver(app, client, amount=5000):
    user = make_user(tier="primary", kind="company")
    intent, url = start_topup(app, client, user, amount, bank_code="MBB0228")
    html = go_to_gateway(client, url)
    assert "Maybank2E (corporate)" in html
    r = submit_gateway(client, html, bank_code="MBB0228", outcome="99", callback_mode="drop")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-status="pending"' in page and "second approver" in page
    intent = fresh(intent)
    assert intent.pending_reason == "awaiting_approver" and intent.gateway_txn_id
    return user, intent


def test_the_second_approver_approves_on_the_sandbox_page_and_the_payment_succeeds(app, client):
    user, intent = _corporate_payment_awaiting_approver(app, client, 5000)
    txn_url = f"/sandbox-gateway/txn/{intent.gateway_txn_id}"
    page = client.get(txn_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert intent.reference in html and "99 · Pending authorisation" in html and "Approve (second approver)" in html
    # The bank's page is a form like any other: no token, no decision.
    assert client.post(txn_url, data={"decision": "approve"}).status_code == 400
    assert store.get(intent.gateway_txn_id)["status_code"] == "99"
    token = csrf_from(html)
    r = client.post(txn_url, data={"csrf_token": token, "decision": "approve"})
    assert r.status_code == 302 and r.headers["Location"].endswith(txn_url)
    html = client.get(txn_url).get_data(as_text=True)
    assert "00 · Approved" in html and 'name="decision"' not in html
    assert store.get(intent.gateway_txn_id)["status_code"] == "00"
    # A later "reject" for a decided transaction changes nothing at the bank.
    assert client.post(txn_url, data={"csrf_token": token, "decision": "reject"}).status_code == 200
    assert store.get(intent.gateway_txn_id)["status_code"] == "00"
    # The callback was dropped (the transaction's mode): eBiz learns it when the customer looks again.
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0
    page = client.get(f"/payments/{intent.reference}").get_data(as_text=True)
    assert 'data-status="succeeded"' in page
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.receipt_no and not intent.needs_review
    assert wallet.balance(user) == 5000 and wallet.verify() == []


def test_the_second_approver_rejects_and_the_payment_fails_without_money_moving(app, client):
    user, intent = _corporate_payment_awaiting_approver(app, client, 4000)
    txn_url = f"/sandbox-gateway/txn/{intent.gateway_txn_id}"
    token = csrf_from(client.get(txn_url).get_data(as_text=True))
    assert client.post(txn_url, data={"csrf_token": token, "decision": "reject"}).status_code == 302
    assert store.get(intent.gateway_txn_id)["status_code"] == "05"
    # Once decided, an "approve" changes nothing.
    assert client.post(txn_url, data={"csrf_token": token, "decision": "approve"}).status_code == 200
    assert store.get(intent.gateway_txn_id)["status_code"] == "05"
    page = client.get(f"/payments/{intent.reference}").get_data(as_text=True)
    assert 'data-status="failed"' in page
    assert fresh(intent).status == IntentStatus.FAILED and wallet.balance(user) == 0


def test_the_approver_page_of_an_unknown_transaction_is_not_found(app, client):
    assert client.get("/sandbox-gateway/txn/SBXNOSUCHTXN0000").status_code == 404


# ------------------------------------------------------------------ status page: pending texts

def test_status_page_says_we_wait_for_the_customer_and_offers_the_payment_page(app, client):
    user = make_user(tier="primary")
    intent, _url = start_topup(app, client, user, 1000)
    page = client.get(f"/payments/{intent.reference}").get_data(as_text=True)
    assert 'data-status="pending"' in page
    assert "We have no word from your bank or card issuer about this payment yet." in page
    assert "Nothing has been charged" not in page  # the bank may have taken it: we do not know yet
    assert "If your bank took the money, we credit it as soon as the bank confirms." in unescape(page)
    assert "Go to the payment page" in page and f'action="/payments/{intent.reference}/continue"' in page
    assert fresh(intent).pending_reason == "awaiting_customer"


def test_status_page_says_the_bank_has_not_confirmed_yet(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="09", callback_mode="drop")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-status="pending"' in page
    assert "Your bank has not confirmed the payment yet." in page
    assert "Banks usually confirm within minutes." in page and "do not pay twice" in page
    assert 'data-testid="check-again"' in page
    # The customer already paid at the bank: no way back to the payment page (they would pay twice).
    assert "Go to the payment page" not in page and "/continue" not in page
    assert fresh(intent).pending_reason == "awaiting_bank" and wallet.balance(user) == 0


# ------------------------------------------------------------------ POST /payments/<ref>/continue

def test_continue_sends_a_pending_payment_back_to_the_gateway_page(app, client):
    user = make_user(tier="primary")
    intent, _url = start_topup(app, client, user, 1000)
    page = f"/payments/{intent.reference}"
    assert client.post(f"{page}/continue", data={}).status_code == 400  # no CSRF token
    r = client.post(f"{page}/continue", data={"csrf_token": csrf(client, page)})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert "/sandbox-gateway/pay?" in location and f"merchant_ref={intent.reference}" in location
    html = go_to_gateway(client, location)
    assert intent.reference in html and "MYR 10.00" in html
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0


@pytest.mark.parametrize("outcome, status", [("00", IntentStatus.SUCCEEDED), ("51", IntentStatus.FAILED)])
def test_continue_is_refused_once_the_payment_is_no_longer_pending(app, client, outcome, status):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome=outcome)
    client.get(r.headers["Location"])
    before = fresh(intent)
    assert before.status == status
    snapshot = (before.status, before.receipt_no, before.gateway_txn_id, before.gateway_status, before.updated_at)
    events, txn = _events(intent), store.get(before.gateway_txn_id)
    page = f"/payments/{intent.reference}"
    r = client.post(f"{page}/continue", data={"csrf_token": csrf(client, page)})
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "This payment is no longer waiting to be paid." in html and "flash-error" in html
    after = fresh(intent)
    assert (after.status, after.receipt_no, after.gateway_txn_id, after.gateway_status, after.updated_at) == snapshot
    assert _events(intent) == events and store.get(before.gateway_txn_id) == txn
    assert wallet.balance(user) == (1000 if status == IntentStatus.SUCCEEDED else 0)


def test_continue_with_another_customers_reference_is_not_found(app, client):
    owner, other = make_user(tier="primary"), make_user(tier="primary")
    intent, _url = start_topup(app, client, owner, 1000)
    sign_in(client, other)
    r = client.post(f"/payments/{intent.reference}/continue", data={"csrf_token": csrf(client, "/payments/history")})
    assert r.status_code == 404
    assert fresh(intent).status == IntentStatus.PENDING and _events(intent) == 0
    with store.engine().connect() as c:  # the gateway never heard of it
        assert c.execute(select(store.txn_table)).first() is None


# ------------------------------------------------------------------ unknown gateways

def test_a_callback_for_an_unknown_gateway_is_not_found_and_changes_nothing(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, headers = bank_answers(app, intent, "00")
    for name in ("paypal", "SANDBOX", "sandbox2"):
        r = client.post(f"/payments/callback/{name}", data=body, headers=headers)
        assert r.status_code == 404
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0
    assert _events() == 0
    assert json.loads(body)["merchant_ref"] == intent.reference
    # The same message to the right gateway is applied.
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    assert wallet.balance(user) == 2000


def test_get_gateway_names_an_unknown_payment_gateway_setting(app):
    assert get_gateway().name == "sandbox"
    with pytest.raises(RuntimeError, match="unknown PAYMENT_GATEWAY 'nosuchpay'"):
        get_gateway("nosuchpay")
    app.config["PAYMENT_GATEWAY"] = "nosuchpay"  # (the payments conftest puts it back)
    with pytest.raises(RuntimeError, match="unknown PAYMENT_GATEWAY 'nosuchpay'"):
        get_gateway()
