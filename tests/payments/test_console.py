"""The administrators' reconciliation console: overdue payments with "requery now" (audited), paid at the
gateway but unsettled, duplicates, refunds in flight, and the daily settlement check."""

import json
from datetime import timedelta

from sqlalchemy import func, select

from ebiz.audit.models import AuditEvent
from ebiz.clock import to_local, utcnow
from ebiz.extensions import db
from ebiz.payments import console, refunds
from ebiz.payments.models import IntentStatus, RefundRequest
from ebiz.payments.signing import sign
from ebiz.wallet import service as wallet
from tests.factories import make_user
from tests.wallet.helpers import fund

from .helpers import bank_answers, csrf_from, fresh, post_callback, sign_in, topup_intent

URL = "/payments/staff/reconcile"


def _dropped(app, user, amount=2000, minutes=20):
    """Paid at the bank, but the bank's callback was dropped; started `minutes` ago."""
    intent = topup_intent(user, amount)
    bank_answers(app, intent, "00")  # callback mode "drop": eBiz hears nothing
    intent = fresh(intent)
    intent.created_at = utcnow() - timedelta(minutes=minutes)
    db.session.commit()
    return intent


def test_a_dropped_callback_shows_up_and_requery_now_settles_it_audited(app, client):
    user = make_user(tier="primary")
    intent = _dropped(app, user)
    recent = _dropped(app, user, minutes=1)  # not yet past its expected time
    admin = make_user(role="admin")
    sign_in(client, admin)
    page = client.get(URL).get_data(as_text=True)
    overdue = page.split('data-testid="reconcile-overdue"')[1].split("</table>")[0]
    assert intent.reference in overdue and recent.reference not in overdue
    r = client.post(f"{URL}/{intent.reference}/requery", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert fresh(intent).status == IntentStatus.SUCCEEDED and wallet.balance(user) == 2000
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payment.requeried"))
    assert audit.actor_id == admin.id
    page = client.get(URL).get_data(as_text=True)
    assert intent.reference not in page.split('data-testid="reconcile-overdue"')[1].split("</table>")[0]


def test_only_administrators_see_the_console_or_requery(app, client):
    user = make_user(tier="primary")
    intent = _dropped(app, user)
    for who in (make_user(role="support_agent"), user):
        sign_in(client, who)
        assert client.get(URL).status_code in (302, 403)
        assert client.post(f"{URL}/{intent.reference}/requery", data={}).status_code in (302, 400, 403)
    assert fresh(intent).status == IntentStatus.PENDING
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "payment.requeried")) == 0


def test_paid_at_the_gateway_but_rejected_is_listed(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    body, _ = bank_answers(app, intent, "00")
    data = json.loads(body)
    data["amount"] = "19.99"
    wrong = json.dumps(data).encode()
    post_callback(client, wrong, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], wrong)})
    rows = console.paid_unsettled()
    assert [i.reference for i, _ in rows] == [intent.reference]
    assert rows[0][1].details["reason"] == "amount or currency mismatch"
    sign_in(client, make_user(role="admin"))
    page = client.get(URL).get_data(as_text=True)
    assert intent.reference in page.split('data-testid="reconcile-unsettled"')[1].split("</table>")[0]


def test_duplicates_and_refunds_in_flight_are_listed(app, client):
    from ebiz.payments import service as payments

    payments.register_payable("test_dup", settle=lambda i: None, describe=lambda i: "Dup", return_url=lambda i: "/")
    user = make_user(tier="primary")
    fund(user, 10000)
    paid = []
    for key in ("a", "b"):
        intent = payments.create_intent(user, kind="test_dup", payable_ref="EBZ-ORD-DUP", amount_sen=1000,
                                        method="wallet", idempotency_key=key)
        paid.append(payments.pay_with_wallet(intent))
    once = payments.create_intent(user, kind="test_dup", payable_ref="EBZ-ORD-ONCE", amount_sen=1000,
                                  method="wallet", idempotency_key="c")
    payments.pay_with_wallet(once)
    db.session.commit()
    groups = console.duplicates()
    assert [[i.reference for i in g] for g in groups] == [[p.reference for p in paid]]
    # A gateway refund approved but not yet answered.
    online = topup_intent(user, 1500)
    body, headers = bank_answers(app, online, "00")
    post_callback(client, body, headers)
    refund = payments.queue_refund(fresh(online), 1500, "undeliverable", "X")
    db.session.commit()
    refunds.approve(make_user(role="admin"), refund.reference)
    db.session.commit()
    assert [r.reference for r in console.refunds_in_flight()] == [refund.reference]
    assert db.session.get(RefundRequest, refund.id).status == "open"


def test_daily_settlement_check_compares_the_gateway_with_the_ledger(app, client):
    user = make_user(tier="primary")
    intent = topup_intent(user, 2500)
    body, headers = bank_answers(app, intent, "00")
    post_callback(client, body, headers)
    today = to_local(utcnow()).date()
    s = console.settlement(today)
    assert (s.at_gateway, s.ledger_collected, s.ebiz_paid, s.matches) == (2500, 2500, 2500, True)
    _dropped(app, user, amount=1700)  # the bank took it; eBiz has not heard
    s = console.settlement(today)
    assert (s.at_gateway, s.ledger_collected, s.matches) == (4200, 2500, False)
    yesterday = console.settlement(today - timedelta(days=1))
    assert (yesterday.at_gateway, yesterday.ledger_collected) == (0, 0)
    sign_in(client, make_user(role="admin"))
    page = client.get(URL).get_data(as_text=True)
    assert 'data-matches="False"' in page and "RM 17.00" in page
    bad = client.get(f"{URL}?day=2026-13-45").get_data(as_text=True)
    assert "Enter a date from 2000 up to today" in bad and 'data-matches="False"' in bad  # today is shown
