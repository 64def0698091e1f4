"""The Stripe adapter (PAYMENT_GATEWAY=stripe): start, signed webhooks applied once, requery, config guard.

localstripe plays the PaymentIntents it implements faithfully (a card payment confirmed at
creation, retrieve); what it cannot play (Checkout Sessions, FPX, declines, processing,
disputes) comes as events signed the way Stripe documents, through the real endpoint.
"""

import secrets
import time

import pytest
from sqlalchemy import func, select

from config import ProductionConfig
from ebiz import create_app
from ebiz.audit.models import AuditEvent
from ebiz.errors import Conflict
from ebiz.extensions import db
from ebiz.payments import service as payments
from ebiz.payments.models import IntentStatus, PaymentEvent, PendingReason, ReviewNote
from ebiz.payments.stripe_gateway import check_config
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerPosting
from tests.factories import make_user

from .helpers import fresh, sign_in, topup_intent
from .stripe_servers import (
    SECRET_KEY,
    card_payment_at_localstripe,
    event,
    payment_intent_object,
    post_event,
    session_object,
)


def _start(app, intent) -> str:
    with app.test_request_context():
        url = payments.start_online(intent)
    db.session.commit()
    return url


def _postings() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerPosting))


def _audits(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


# -- start --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fpx", "card"])
def test_start_creates_a_checkout_session_in_sen_myr_with_reference_and_idempotency_key(app, stripe_gw, method):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2550, method=method, bank_code="MB2U0227" if method == "fpx" else None)
    before = len(stripe_gw.requests)
    url = _start(app, intent)
    sent = stripe_gw.requests[before:]
    assert len(sent) == 1
    form, key = sent[0]["form"], sent[0]["idempotency_key"]
    assert form["line_items[0][price_data][unit_amount]"] == "2550"
    assert form["line_items[0][price_data][currency]"] == "myr"
    assert form["payment_method_types[0]"] == method and "payment_method_types[1]" not in form
    assert form["mode"] == "payment"
    assert form["metadata[ebiz_ref]"] == form["payment_intent_data[metadata][ebiz_ref]"] == intent.reference
    assert form["client_reference_id"] == intent.reference
    assert form["success_url"].endswith(f"/payments/{intent.reference}")
    assert key == f"ebiz-start-{intent.reference}"
    assert sent[0]["authorization"] == f"Bearer {SECRET_KEY}"
    session_id = fresh(intent).gateway_txn_id
    assert session_id.startswith("cs_test_") and url == stripe_gw.sessions[session_id]["url"]
    # Continuing the payment sends the customer back to the same open page, without a new session.
    assert _start(app, fresh(intent)) == url
    assert len(stripe_gw.requests) == before + 1


def test_start_when_stripe_is_down_leaves_the_intent_unstarted(app, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    with app.test_request_context(), pytest.raises(Conflict):
        payments.start_online(intent)
    db.session.rollback()
    assert fresh(intent).gateway_txn_id is None and fresh(intent).status == IntentStatus.PENDING


def test_continuing_a_completed_session_goes_to_ebiz_status_page(app, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    stripe_gw.sessions[fresh(intent).gateway_txn_id].update(status="complete", payment_status="unpaid")
    assert _start(app, fresh(intent)).endswith(f"/payments/{intent.reference}")


# -- webhooks -------------------------------------------------------------------------------
def test_card_payment_end_to_end_start_webhook_paid(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2500, method="card", bank_code=None)
    _start(app, intent)
    sid = fresh(intent).gateway_txn_id
    evt = event("checkout.session.completed", session_object(intent, session_id=sid, payment_intent="pi_card1"))
    r = post_event(client, evt)
    assert r.status_code == 200 and r.json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.receipt_no
    assert intent.gateway_payment_id == "pi_card1" and intent.gateway_txn_id == sid
    assert wallet.balance(user) == 2500 and wallet.verify() == []
    # The PaymentIntent's own event for the same payment arrives too: a duplicate, nothing moves.
    r = post_event(client, event("payment_intent.succeeded", payment_intent_object(intent, pi_id="pi_card1")))
    assert r.status_code == 200 and r.json["outcome"] == "duplicate"
    assert wallet.balance(user) == 2500 and _postings() == 1


def test_fpx_processing_then_succeeded(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 3000)
    _start(app, intent)
    r = post_event(client, event("payment_intent.processing", payment_intent_object(intent, pi_id="pi_fpx1",
                                                                                     status="processing")))
    assert r.status_code == 200 and r.json["outcome"] == "noted"
    pending = fresh(intent)
    assert pending.status == IntentStatus.PENDING and pending.pending_reason == PendingReason.AWAITING_BANK
    assert wallet.balance(user) == 0
    r = post_event(client, event("checkout.session.async_payment_succeeded",
                                 session_object(intent, session_id=pending.gateway_txn_id, payment_intent="pi_fpx1")))
    assert r.status_code == 200 and r.json["outcome"] == "applied"
    assert fresh(intent).status == IntentStatus.SUCCEEDED and wallet.balance(user) == 3000


def test_declined_payment_fails_with_the_decline_code_and_credits_nothing(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000, method="card", bank_code=None)
    _start(app, intent)
    pi = payment_intent_object(intent, status="requires_payment_method", error={
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"})
    r = post_event(client, event("payment_intent.payment_failed", pi))
    assert r.status_code == 200 and r.json["outcome"] == "noted"
    intent = fresh(intent)  # Checkout lets the customer try another card: still waiting for them
    assert intent.status == IntentStatus.PENDING and intent.gateway_status == "insufficient_funds"
    assert intent.pending_reason == PendingReason.AWAITING_CUSTOMER
    assert wallet.balance(user) == 0 and _postings() == 0
    # They give up; the session expires: the payment has failed, nothing was taken.
    r = post_event(client, event("checkout.session.expired", session_object(
        intent, session_id=intent.gateway_txn_id, payment_status="unpaid", status="expired", payment_intent=None)))
    assert r.json["outcome"] == "applied" and fresh(intent).status == IntentStatus.FAILED
    assert wallet.balance(user) == 0 and _postings() == 0


def test_a_declined_attempt_then_a_good_card_pays_without_a_review_flag(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000, method="card", bank_code=None)
    _start(app, intent)
    pi = payment_intent_object(intent, pi_id="pi_retry", status="requires_payment_method", error={
        "type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"})
    assert post_event(client, event("payment_intent.payment_failed", pi)).json["outcome"] == "noted"
    assert post_event(client, event("payment_intent.succeeded", payment_intent_object(
        intent, pi_id="pi_retry"))).json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and not intent.needs_review and wallet.balance(user) == 2000


def test_a_canceled_payment_intent_fails_the_payment(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    pi = payment_intent_object(intent, status="canceled", error={"type": "invalid_request_error",
                                                                 "code": "payment_intent_payment_attempt_expired"})
    assert post_event(client, event("payment_intent.payment_failed", pi)).json["outcome"] == "applied"
    assert fresh(intent).status == IntentStatus.FAILED and wallet.balance(user) == 0


@pytest.mark.parametrize("how", ["wrong secret", "no header", "garbage header", "too old", "tampered body"])
def test_a_webhook_not_signed_by_stripe_is_rejected_audited_and_changes_nothing(app, client, stripe_gw, how):
    import json

    from .stripe_servers import signature

    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    evt = event("checkout.session.completed", session_object(intent, session_id=fresh(intent).gateway_txn_id))
    if how == "wrong secret":
        r = post_event(client, evt, secret="whsec_someone_else")
    elif how == "no header":
        r = client.post("/payments/callback/stripe", data=json.dumps(evt), content_type="application/json")
    elif how == "garbage header":
        r = post_event(client, evt, sig="t=abc,v1=zz")
    elif how == "too old":
        r = post_event(client, evt, t=int(time.time()) - 301)
    else:
        signed_for = json.dumps(evt).encode()
        evt["data"]["object"]["amount_total"] = 1
        r = post_event(client, evt, sig=signature(signed_for))
    assert r.status_code == 400 and r.json["status"] == "rejected"
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0
    assert _audits("payment.message_rejected") == 1


def test_a_replayed_event_is_applied_once(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    # "processing" twice: without the event id it would be "noted" twice; with it, the replay is a duplicate.
    evt = event("payment_intent.processing", payment_intent_object(intent, pi_id="pi_rep", status="processing"))
    assert post_event(client, evt).json["outcome"] == "noted"
    paid = event("checkout.session.completed", session_object(intent, session_id=fresh(intent).gateway_txn_id,
                                                              payment_intent="pi_rep"))
    assert post_event(client, paid).json["outcome"] == "applied"
    for e in (evt, paid, paid):
        r = post_event(client, e)
        assert r.status_code == 200 and r.json["outcome"] == "duplicate"
    assert wallet.balance(user) == 2000 and _postings() == 1
    ids = db.session.scalars(select(PaymentEvent.gateway_event_id).where(PaymentEvent.intent_id == intent.id,
                                                                          PaymentEvent.gateway_event_id.is_not(None)))
    assert sorted(ids) == sorted([f"stripe:{evt['id']}", f"stripe:{paid['id']}"])


def test_an_event_for_an_unknown_intent_is_rejected(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    obj = session_object(intent, session_id="cs_test_other")
    obj["metadata"]["ebiz_ref"] = obj["client_reference_id"] = "EBZ-PAY-NOSUCH"
    r = post_event(client, event("checkout.session.completed", obj))
    assert r.status_code == 400 and r.json["status"] == "rejected"
    assert fresh(intent).status == IntentStatus.PENDING and _postings() == 0


def test_an_event_for_a_sandbox_intent_is_rejected(app, client, stripe_gw):
    user = make_user(tier="primary")
    app.config["PAYMENT_GATEWAY"] = "sandbox"
    intent = topup_intent(user, 2000)
    app.config["PAYMENT_GATEWAY"] = "stripe"
    r = post_event(client, event("payment_intent.succeeded", payment_intent_object(intent)))
    assert r.status_code == 400 and fresh(intent).status == IntentStatus.PENDING


@pytest.mark.parametrize("amount,currency", [(1999, "myr"), (2000, "sgd")])
def test_an_amount_or_currency_mismatch_is_rejected(app, client, stripe_gw, amount, currency):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    obj = session_object(intent, session_id=fresh(intent).gateway_txn_id, amount=amount, currency=currency)
    r = post_event(client, event("checkout.session.completed", obj))
    assert r.status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0
    assert _audits("payment.message_rejected") == 1


def test_another_session_for_the_same_reference_is_rejected(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    r = post_event(client, event("checkout.session.completed", session_object(intent, session_id="cs_test_forged")))
    assert r.status_code == 400 and fresh(intent).status == IntentStatus.PENDING


def test_expired_session_fails_the_intent_and_money_arriving_later_still_credits(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    sid = fresh(intent).gateway_txn_id
    r = post_event(client, event("checkout.session.expired", session_object(
        intent, session_id=sid, payment_status="unpaid", status="expired", payment_intent=None)))
    assert r.json["outcome"] == "applied" and fresh(intent).status == IntentStatus.FAILED
    r = post_event(client, event("payment_intent.succeeded", payment_intent_object(intent)))
    assert r.json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review and wallet.balance(user) == 2000


def test_dispute_and_refund_notices_are_logged_and_a_dispute_goes_to_staff(app, client, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000, method="card", bank_code=None)
    _start(app, intent)
    post_event(client, event("checkout.session.completed", session_object(
        intent, session_id=fresh(intent).gateway_txn_id, payment_intent="pi_disp")))
    assert not fresh(intent).needs_review
    dispute = {"id": "dp_1", "object": "dispute", "amount": 2000, "currency": "myr", "charge": "ch_1",
               "payment_intent": "pi_disp", "reason": "fraudulent", "status": "needs_response", "metadata": {}}
    r = post_event(client, event("charge.dispute.created", dispute))
    assert r.status_code == 200 and r.json["outcome"] == "noted"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review
    assert intent.review_note == ReviewNote.DISPUTED and _audits("payment.disputed") == 1
    charge = {"id": "ch_1", "object": "charge", "amount": 2000, "amount_refunded": 500, "currency": "myr",
              "payment_intent": "pi_disp", "metadata": {}, "refunded": False}
    r = post_event(client, event("charge.refunded", charge))
    assert r.status_code == 200 and r.json["outcome"] == "noted"
    assert wallet.balance(user) == 2000  # a notice moves no money in eBiz by itself
    # A dispute about a payment eBiz does not know is refused.
    r = post_event(client, event("charge.dispute.created", {**dispute, "payment_intent": "pi_unknown"}))
    assert r.status_code == 400


def test_event_types_ebiz_does_not_use_are_answered_and_ignored(app, client, stripe_gw):
    r = post_event(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert r.status_code == 200 and r.json["outcome"] == "ignored"


# -- requery -----------------------------------------------------------------------------------
def test_return_page_requeries_the_session_and_its_payment_at_localstripe(app, client, stripe_gw, localstripe_url):
    """The webhook never came: the customer's return asks Stripe (session -> PaymentIntent) and settles."""
    user = make_user(tier="primary")
    intent = topup_intent(user, 4200, method="card", bank_code=None)
    _start(app, intent)
    sid = fresh(intent).gateway_txn_id
    pi_id = card_payment_at_localstripe(localstripe_url, intent)
    stripe_gw.sessions[sid].update(status="complete", payment_status="paid", payment_intent=pi_id)
    sign_in(client, user)
    r = client.get(f"/payments/{intent.reference}")
    assert r.status_code == 200
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.gateway_payment_id == pi_id
    assert wallet.balance(user) == 4200


def test_reconcile_requeries_a_known_payment_intent_at_localstripe(app, stripe_gw, localstripe_url):
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500, method="card", bank_code=None)
    _start(app, intent)
    pi_id = card_payment_at_localstripe(localstripe_url, intent)
    intent = fresh(intent)
    intent.gateway_payment_id = pi_id  # as a "processing" event would have told us
    db.session.commit()
    line = payments.reconcile_one(intent.id)
    db.session.commit()
    assert line.after == IntentStatus.SUCCEEDED and wallet.balance(user) == 1500


def test_requery_of_an_open_session_keeps_waiting_for_the_customer(app, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500)
    _start(app, intent)
    assert payments.refresh(fresh(intent), source="check") == "noted"
    db.session.commit()
    intent = fresh(intent)
    assert intent.status == IntentStatus.PENDING and intent.pending_reason == PendingReason.AWAITING_CUSTOMER


def test_requery_when_stripe_cannot_be_reached_is_unavailable(app, stripe_gw):
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500)
    _start(app, intent)
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    assert payments.refresh(fresh(intent), source="return", returned=True) == "unavailable"
    db.session.commit()
    assert fresh(intent).pending_reason == PendingReason.AWAITING_ANSWER


# -- configuration ---------------------------------------------------------------------------------
def _production(tmp_path, **attrs):
    return type("Config", (ProductionConfig,), {
        "SECRET_KEY": "prod-test-secret", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
        "RATELIMIT_STORAGE_URI": "memory://", "PAYMENT_GATEWAY": "stripe", "STRIPE_WEBHOOK_SECRET": "whsec_x",
        **attrs})


def test_production_refuses_a_test_mode_key_unless_staging_is_declared(tmp_path):
    with pytest.raises(RuntimeError, match="EBIZ_STAGING=1"):
        create_app(_production(tmp_path, STRIPE_SECRET_KEY="sk_test_abc", ALLOW_TEST_GATEWAY_KEY=False))
    assert not (tmp_path / "prod.db").exists()
    check_config({"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_WEBHOOK_SECRET": "whsec_x",
                  "ALLOW_TEST_GATEWAY_KEY": True})  # staging
    check_config({"STRIPE_SECRET_KEY": "sk_live_" + secrets.token_hex(4), "STRIPE_WEBHOOK_SECRET": "whsec_x",
                  "ALLOW_TEST_GATEWAY_KEY": False})


@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_stripe_without_its_keys_refuses_to_start(tmp_path, missing):
    with pytest.raises(RuntimeError, match=missing):
        create_app(_production(tmp_path, **{"STRIPE_SECRET_KEY": "sk_live_abc", missing: ""}))


def test_production_staging_flag_comes_from_the_environment(monkeypatch):
    import importlib

    import config

    monkeypatch.setenv("EBIZ_STAGING", "1")
    assert importlib.reload(config).ProductionConfig.ALLOW_TEST_GATEWAY_KEY is True
    monkeypatch.delenv("EBIZ_STAGING")
    assert importlib.reload(config).ProductionConfig.ALLOW_TEST_GATEWAY_KEY is False


def test_an_order_paid_by_card_through_stripe_end_to_end(app, client, stripe_gw):
    """Checkout -> pay by card (a Checkout Session) -> Stripe's signed webhook -> the order is paid."""
    from ebiz.accounts.models import Tier
    from ebiz.orders import service as orders
    from ebiz.orders.models import Order
    from tests.orders.helpers import accepted_for, digital_product

    user = make_user(tier=Tier.PRIMARY)
    product = digital_product(price_sen=5000)
    orders.add_to_cart(user, product.id)
    order = orders.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(product), ip="127.0.0.1",
                            user_agent="pytest", collect_counter_id=None)
    db.session.commit()
    with app.test_request_context():
        intent, url = orders.pay(user, order, method="card", idempotency_key=secrets.token_hex(8))
    db.session.commit()
    sid = fresh(intent).gateway_txn_id
    assert url == stripe_gw.sessions[sid]["url"]
    assert stripe_gw.requests[-1]["form"]["line_items[0][price_data][unit_amount]"] == "5000"
    r = post_event(client, event("checkout.session.completed", session_object(fresh(intent), session_id=sid)))
    assert r.status_code == 200 and r.json["outcome"] == "applied"
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "fulfilled" and order.payment_method == "card"  # a digital order: paid and delivered


def test_settlement_check_reads_the_days_charges_from_stripe(app, stripe_gw):
    import calendar
    from datetime import date

    from ebiz.payments import console

    day = date(2026, 11, 30)
    start, end = console.day_bounds(day)  # a Malaysian day: 16:00 UTC the day before, to 16:00 UTC
    t0, t1 = calendar.timegm(start.utctimetuple()), calendar.timegm(end.utctimetuple())
    assert t1 - t0 == 86400 and start.hour == 16
    stripe_gw.balance_transactions[:] = [
        {"id": "txn_1", "object": "balance_transaction", "type": "charge", "amount": 2500, "currency": "myr",
         "created": t0},
        {"id": "txn_2", "object": "balance_transaction", "type": "payment", "amount": 1000, "currency": "myr",
         "created": t1 - 1},
        {"id": "txn_3", "object": "balance_transaction", "type": "refund", "amount": -500, "currency": "myr",
         "created": t0 + 60},
        {"id": "txn_4", "object": "balance_transaction", "type": "charge", "amount": 9999, "currency": "myr",
         "created": t1},  # the next day
    ]
    s = console.settlement(day)
    assert s.gateway == "stripe" and s.at_gateway == 3500 and s.ledger_collected == 0 and s.matches is False
    assert stripe_gw.balance_queries[-1]["created[gte]"] == str(t0)
    assert stripe_gw.balance_queries[-1]["created[lt]"] == str(t1)


@pytest.mark.postgres_only("row locks: PostgreSQL")
def test_the_same_event_delivered_twice_at_once_is_applied_once(app, stripe_gw, is_postgres, monkeypatch):
    import json

    from tests.races import race

    from .stripe_servers import signature

    monkeypatch.setattr("ebiz.notifications.service.deliver", lambda ids=None: (0, 0))
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    _start(app, intent)
    evt = event("checkout.session.completed", session_object(intent, session_id=fresh(intent).gateway_txn_id))
    body = json.dumps(evt).encode()
    headers = {"Stripe-Signature": signature(body)}
    outcomes = []
    results = race(app, lambda: outcomes.append(payments.handle_callback("stripe", body, headers)), [(), (), ()])
    db.session.rollback()
    assert results == ["ok"] * 3 and sorted(outcomes) == ["applied", "duplicate", "duplicate"], (results, outcomes)
    assert wallet.balance(user) == 2000 and _postings() == 1
