"""Refunds to the payer through the gateway: approved once, issued with eBiz's key, completed by the
gateway's answer (sandbox: at once; Stripe: its answer or its refund event), booked and mailed."""

import pytest
import stripe
from sqlalchemy import func, insert, select

from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.payments import refunds
from ebiz.payments import service as payments
from ebiz.payments.models import RefundRequest
from ebiz.payments.sandbox import store
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerAccount, LedgerEntry, SystemAccount
from tests.factories import make_user
from tests.races import race
from tests.wallet.helpers import fund

from .helpers import bank_answers, csrf, fresh, post_callback, sign_in, topup_intent
from .stripe_servers import SECRET_KEY, card_payment_at_localstripe, event, post_event


def _system_balance(code: str) -> int:
    return int(db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0)).join(LedgerAccount)
        .where(LedgerAccount.code == code)))


def _owed_topup(app, client, amount=3000):
    """A sandbox top-up paid at the bank that could not be credited (the wallet filled up): queued."""
    app.config["WALLET_MAX_BALANCE_SEN"] = 5000
    user = make_user(tier="primary")
    intent = topup_intent(user, amount)
    fund(user, 4000)
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    refund = db.session.scalar(select(RefundRequest).where(RefundRequest.intent_id == intent.id))
    assert refund is not None and refund.amount_sen == amount
    return user, intent, refund


def _sandbox_refunds() -> int:
    with store.engine().connect() as c:
        return c.execute(select(func.count()).select_from(store.refund_table)).scalar_one()


def _refund_mails(user) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_address == user.email, OutboxMessage.template == "payments_refunded"))


def test_staff_return_a_queued_refund_through_the_sandbox(app, client):
    user, intent, refund = _owed_topup(app, client)
    staff = make_user(role="admin")
    sign_in(client, staff)
    token = csrf(client, "/payments/staff/refunds")
    assert "Return through the gateway" in client.get("/payments/staff/refunds").get_data(as_text=True)
    r = client.post(f"/payments/staff/refunds/{refund.reference}/gateway", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    refund = db.session.get(RefundRequest, refund.id)
    assert refund.status == "done" and refund.gateway_status == "succeeded"
    assert refund.gateway_refund_id.startswith("SBR") and refund.resolved_by_id == staff.id
    assert _system_balance(SystemAccount.CLEARING) == 0 and _system_balance(SystemAccount.REFUNDS) == 0
    assert wallet.verify() == [] and wallet.balance(user) == 4000
    assert _refund_mails(user) == 1 and _sandbox_refunds() == 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(refund.id))).all()
    assert "payment.refund_approved" in actions and "payment.refund_resolved" in actions
    # A second click (or a stale page): refused, nothing more leaves.
    r = client.post(f"/payments/staff/refunds/{refund.reference}/gateway", data={"csrf_token": token})
    assert r.status_code == 302 and _sandbox_refunds() == 1 and _refund_mails(user) == 1
    with pytest.raises(Conflict):
        payments.resolve_refund(staff, refund.reference, "again by hand")
    db.session.rollback()


def test_a_customer_cannot_return_refunds(app, client):
    user, intent, refund = _owed_topup(app, client)
    sign_in(client, user)
    r = client.post(f"/payments/staff/refunds/{refund.reference}/gateway", data={"csrf_token": csrf(client)})
    assert r.status_code in (403, 404)
    assert fresh(intent) and db.session.get(RefundRequest, refund.id).gateway_status is None
    assert _sandbox_refunds() == 0


def test_a_refund_the_gateway_refuses_stays_open_for_a_bank_transfer(app, client):
    user, intent, refund = _owed_topup(app, client)
    with store.engine().begin() as c:  # the money was already given back at the gateway by other means
        c.execute(insert(store.refund_table).values(refund_id="SBRX", idempotency_key="other",
                                                    merchant_ref=intent.reference, amount_sen=3000,
                                                    status="succeeded", created_at=utcnow()))
    staff = make_user(role="support_agent")
    refunds.approve(staff, refund.reference)
    db.session.commit()
    assert refunds.issue(refund.reference) == "applied"
    db.session.commit()
    db.session.expire_all()
    refund = db.session.get(RefundRequest, refund.id)
    assert refund.status == "open" and refund.gateway_status == "failed"
    assert _system_balance(SystemAccount.REFUNDS) == 3000 and _refund_mails(user) == 0
    with pytest.raises(Conflict):
        refunds.approve(staff, refund.reference)
    db.session.rollback()
    payments.resolve_refund(staff, refund.reference, "IBG transfer 1234")  # by hand, as before
    db.session.commit()
    assert _system_balance(SystemAccount.REFUNDS) == 0


def test_a_wallet_payment_is_not_returned_through_the_gateway(app, client):
    user = make_user(tier="primary")
    fund(user, 5000)
    payments.register_payable("test_w", settle=lambda i: None, describe=lambda i: "W", return_url=lambda i: "/")
    intent = payments.create_intent(user, kind="test_w", payable_ref="W", amount_sen=1000, method="wallet",
                                    idempotency_key="w1")
    payments.pay_with_wallet(intent)
    refund = payments.queue_refund(intent, 1000, "undeliverable", "W")
    db.session.commit()
    assert not refunds.can_use_gateway(refund)
    with pytest.raises(ValidationError):
        refunds.approve(make_user(role="admin"), refund.reference)
    db.session.rollback()
    assert db.session.get(RefundRequest, refund.id).gateway_status is None


@pytest.mark.postgres_only("row locks: PostgreSQL")
def test_two_staff_approving_the_same_refund_at_once_make_one_gateway_refund(app, client, is_postgres, monkeypatch):
    monkeypatch.setattr("ebiz.notifications.service.deliver", lambda ids=None: (0, 0))
    user, intent, refund = _owed_topup(app, client)
    staff = [make_user(role="admin"), make_user(role="support_agent")]
    db.session.commit()
    ref = refund.reference

    def approve_and_issue(staff_id):
        from ebiz.accounts.models import User

        refunds.approve(db.session.get(User, staff_id), ref)
        db.session.commit()
        refunds.issue(ref)

    results = race(app, approve_and_issue, [(s.id,) for s in staff])
    db.session.rollback()
    assert sorted(results) == ["Conflict", "ok"], results
    assert _sandbox_refunds() == 1
    assert _system_balance(SystemAccount.REFUNDS) == 0 and _refund_mails(user) == 1


# -- Stripe -----------------------------------------------------------------------------------------
def _paid_stripe_card(app, client, localstripe_url, amount=2600):  # noqa: F811
    """A Stripe card payment for something that could not be delivered: paid at localstripe, queued back."""
    payments.register_payable("test_gone", settle=lambda i: wallet.return_payment(i, "undeliverable", "X"),
                              describe=lambda i: "Gone", return_url=lambda i: "/")
    user = make_user(tier="regular")  # no wallet: the money goes to the refund queue
    intent = payments.create_intent(user, kind="test_gone", payable_ref="X", amount_sen=amount, method="card",
                                    idempotency_key="s1")
    db.session.commit()
    with app.test_request_context():
        payments.start_online(intent)
    db.session.commit()
    pi_id = card_payment_at_localstripe(localstripe_url, intent)
    sid = fresh(intent).gateway_txn_id
    obj = {"id": sid, "object": "checkout.session", "amount_total": amount, "currency": "myr",
           "client_reference_id": intent.reference, "metadata": {"ebiz_ref": intent.reference},
           "payment_intent": pi_id, "payment_status": "paid", "status": "complete"}
    assert post_event(client, event("checkout.session.completed", obj)).json["outcome"] == "applied"
    refund = db.session.scalar(select(RefundRequest).where(RefundRequest.intent_id == intent.id))
    return user, fresh(intent), refund, pi_id


def test_stripe_refund_at_localstripe_with_ebiz_key(app, client, stripe_gw, localstripe_url):  # noqa: F811
    user, intent, refund, pi_id = _paid_stripe_card(app, client, localstripe_url)
    staff = make_user(role="admin")
    refunds.approve(staff, refund.reference)
    db.session.commit()
    assert refunds.issue(refund.reference) == "applied"
    db.session.commit()
    db.session.expire_all()
    refund = db.session.get(RefundRequest, refund.id)
    assert refund.status == "done" and refund.gateway_refund_id.startswith("re_")
    at_stripe = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url}).v1.refunds.retrieve(
        refund.gateway_refund_id)
    assert at_stripe.amount == 2600 and at_stripe.payment_intent == pi_id and at_stripe.status == "succeeded"
    assert _system_balance(SystemAccount.CLEARING) == 0 and _system_balance(SystemAccount.REFUNDS) == -2600
    assert _refund_mails(user) == 1 and wallet.verify() == []


def test_a_pending_stripe_refund_completes_on_its_signed_event(app, client, stripe_gw, localstripe_url):  # noqa: F811
    user, intent, refund, pi_id = _paid_stripe_card(app, client, localstripe_url)
    staff = make_user(role="admin")
    refunds.approve(staff, refund.reference)
    refund.gateway_status, refund.gateway_refund_id = "pending", "re_fpx_1"  # Stripe answered "pending" (FPX)
    db.session.commit()
    with pytest.raises(Conflict):  # not by hand while the gateway is returning it
        payments.resolve_refund(staff, refund.reference, "by hand")
    db.session.rollback()
    obj = {"id": "re_fpx_1", "object": "refund", "amount": 2600, "currency": "myr", "payment_intent": pi_id,
           "status": "succeeded", "metadata": {"ebiz_ref": intent.reference, "ebiz_refund": refund.reference}}
    evt = event("refund.updated", obj)
    assert post_event(client, evt).json["outcome"] == "noted"
    assert post_event(client, evt).json["outcome"] == "duplicate"
    db.session.expire_all()
    refund = db.session.get(RefundRequest, refund.id)
    assert refund.status == "done" and refund.gateway_status == "succeeded"
    assert _system_balance(SystemAccount.CLEARING) == 0 and _system_balance(SystemAccount.REFUNDS) == -2600
    assert _refund_mails(user) == 1


def test_a_refund_the_gateway_did_not_answer_is_sent_again_by_reconcile(app, client):
    user, intent, refund = _owed_topup(app, client)
    staff = make_user(role="admin")
    sign_in(client, staff)
    token = csrf(client, "/payments/staff/refunds")
    app.config["SANDBOX_GATEWAY_URL"] = "http://127.0.0.1:9"  # the gateway is unreachable
    client.post(f"/payments/staff/refunds/{refund.reference}/gateway", data={"csrf_token": token})
    app.config["SANDBOX_GATEWAY_URL"] = ""
    db.session.expire_all()
    assert db.session.get(RefundRequest, refund.id).gateway_status == "issuing" and _sandbox_refunds() == 0
    assert "Sent to the gateway" in client.get("/payments/staff/refunds").get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert f"refund {refund.reference}: applied" in result.output, result.output
    db.session.expire_all()
    assert db.session.get(RefundRequest, refund.id).status == "done" and _sandbox_refunds() == 1
    assert _refund_mails(user) == 1
