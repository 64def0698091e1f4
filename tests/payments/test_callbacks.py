"""Callbacks: signed, applied once; duplicates, replays, late, forged and mismatched ones."""

import json

from sqlalchemy import func, select

from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.payments.models import IntentStatus, PaymentEvent
from ebiz.payments.signing import sign
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerPosting
from tests.factories import make_user

from .helpers import bank_answers, fresh, post_callback, topup_intent


def _postings():
    return db.session.scalar(select(func.count()).select_from(LedgerPosting))


def test_paid_callback_credits_once_and_duplicates_are_noops(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2500)
    body, headers = bank_answers(app, intent, "00")
    r = post_callback(client, body, headers)
    assert r.status_code == 200 and r.json["outcome"] == "applied"
    assert wallet.balance(user) == 2500
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.receipt_no.startswith("RCP-")
    assert intent.gateway_txn_id.startswith("SBX")
    # The same callback again (the gateway retries), and a replay later: success, nothing moves.
    for _ in range(3):
        r = post_callback(client, body, headers)
        assert r.status_code == 200 and r.json["outcome"] == "duplicate"
    assert wallet.balance(user) == 2500
    assert _postings() == 1
    assert wallet.verify() == []
    outcomes = db.session.scalars(select(PaymentEvent.outcome).where(PaymentEvent.intent_id == intent.id)).all()
    assert outcomes.count("applied") == 1 and outcomes.count("duplicate") == 3


def test_failed_after_paid_is_ignored_and_paid_never_goes_back(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    # A stale "failed" (or "pending") message signed by the gateway arrives afterwards.
    for code in ("51", "09", "99"):
        data = json.loads(body)
        data["status_code"] = code
        stale = json.dumps(data).encode()
        r = post_callback(client, stale, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], stale)})
        assert r.status_code == 200 and r.json["outcome"] == "ignored"
    assert fresh(intent).status == IntentStatus.SUCCEEDED
    assert wallet.balance(user) == 2000


def test_forged_signature_is_rejected_audited_and_changes_nothing(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, headers = bank_answers(app, intent, "00")
    forged = {"X-Sandbox-Signature": sign("not-the-secret", body)}
    r = post_callback(client, body, forged)
    assert r.status_code == 400
    r = post_callback(client, body, {})  # no signature at all
    assert r.status_code == 400
    tampered = body.replace(b'"amount": "20.00"', b'"amount": "20000.00"')
    assert tampered != body
    assert post_callback(client, tampered, headers).status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING
    assert wallet.balance(user) == 0 and _postings() == 0
    rejected = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.message_rejected")).all()
    assert len(rejected) == 3 and {e.details["reason"] for e in rejected} == {"bad signature"}


def test_amount_or_currency_mismatch_is_rejected_even_when_signed(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, _ = bank_answers(app, intent, "00")
    secret = app.config["SANDBOX_GATEWAY_SECRET"]
    for change in ({"amount": "1.00"}, {"currency": "SGD"}):
        data = {**json.loads(body), **change}
        msg = json.dumps(data).encode()
        r = post_callback(client, msg, {"X-Sandbox-Signature": sign(secret, msg)})
        assert r.status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING
    assert wallet.balance(user) == 0 and _postings() == 0
    q = select(AuditEvent.details).where(AuditEvent.action == "payment.message_rejected")
    reasons = db.session.scalars(q).all()
    assert [d["reason"] for d in reasons] == ["amount or currency mismatch"] * 2


def test_a_signed_callback_for_another_gateway_transaction_is_rejected(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, headers = bank_answers(app, intent, "09")  # pending at the bank: eBiz learns its transaction id
    post_callback(client, body, headers)
    assert fresh(intent).gateway_txn_id == json.loads(body)["txn_id"]
    paid = {**json.loads(body), "status_code": "00", "txn_id": "SBX-SOMEONE-ELSES"}
    msg = json.dumps(paid).encode()
    r = post_callback(client, msg, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], msg)})
    assert r.status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0 and _postings() == 0
    q = select(AuditEvent.details).where(AuditEvent.action == "payment.message_rejected")
    assert [d["reason"] for d in db.session.scalars(q)] == ["different gateway transaction"]


def test_a_signed_callback_with_a_transaction_id_too_long_to_keep_is_rejected(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, _ = bank_answers(app, intent, "00")
    msg = json.dumps({**json.loads(body), "txn_id": "T" * 65}).encode()
    r = post_callback(client, msg, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], msg)})
    assert r.status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0
    q = select(AuditEvent.details).where(AuditEvent.action == "payment.message_rejected")
    assert [d["reason"] for d in db.session.scalars(q)] == ["malformed transaction id"]


def test_unknown_reference_is_rejected(app, client):
    secret = app.config["SANDBOX_GATEWAY_SECRET"]
    msg = json.dumps({"merchant_ref": "EBZ-PAY-XXXX-XXXX", "status_code": "00", "amount": "10.00",
                      "currency": "MYR", "txn_id": "SBX1"}).encode()
    assert post_callback(client, msg, {"X-Sandbox-Signature": sign(secret, msg)}).status_code == 400
    assert _postings() == 0


def test_late_callback_after_expiry_still_credits_and_is_flagged(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 3000)
    body, headers = bank_answers(app, intent, "00")
    from ebiz.payments import service as payments

    intent.expires_at = utcnow()
    db.session.commit()
    payments.expire(intent)
    db.session.commit()
    assert fresh(intent).status == IntentStatus.EXPIRED
    r = post_callback(client, body, headers)
    assert r.status_code == 200 and r.json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review
    assert wallet.balance(user) == 3000
    assert wallet.verify() == []


def test_failed_then_paid_credits_money_received(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500)
    body, headers = bank_answers(app, intent, "51")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    assert fresh(intent).status == IntentStatus.FAILED
    assert post_callback(client, body, headers).json["outcome"] == "duplicate"
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review
    assert wallet.balance(user) == 1500


def test_pending_and_pending_authorisation_stay_pending_with_a_reason(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500, bank_code="MBB0228")
    body, headers = bank_answers(app, intent, "99")
    assert post_callback(client, body, headers).json["outcome"] == "noted"
    intent = fresh(intent)
    assert intent.status == IntentStatus.PENDING and intent.pending_reason == "awaiting_approver"
    body, headers = bank_answers(app, intent, "09")
    post_callback(client, body, headers)
    assert fresh(intent).pending_reason == "awaiting_bank"
    assert wallet.balance(user) == 0
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    assert wallet.balance(user) == 1500


def test_callback_needs_no_csrf_token_but_other_posts_do(app, client):
    """The callback is CSRF-exempt (signature instead); an ordinary form post without a token is refused."""
    user = make_user(tier="primary")
    intent = topup_intent(user, 1500)
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).status_code == 200
    from .helpers import sign_in

    sign_in(client, user)
    r = client.post(f"/payments/{intent.reference}/check", data={})
    assert r.status_code == 400


def test_a_signed_callback_without_currency_is_rejected(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, _ = bank_answers(app, intent, "00")
    data = json.loads(body)
    data.pop("currency")
    msg = json.dumps(data).encode()
    r = post_callback(client, msg, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], msg)})
    assert r.status_code == 400
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0 and _postings() == 0


def test_an_oversized_callback_is_refused_before_it_is_read(app, client):
    r = client.post("/payments/callback/sandbox", data=b"x" * (64 * 1024 + 1),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
