"""The return page, "check again", requery and `flask payments reconcile`; card flows; ownership."""

import re
from datetime import timedelta

from sqlalchemy import select, text

from ebiz.clock import to_local, utcnow
from ebiz.extensions import db
from ebiz.payments.models import IntentStatus
from ebiz.payments.sandbox import store
from ebiz.wallet import service as wallet
from tests.factories import make_user

from .helpers import csrf, fresh, go_to_gateway, sign_in, start_topup, submit_gateway


def _check_again(client, intent):
    page = f"/payments/{intent.reference}"
    return client.post(f"{page}/check", data={"csrf_token": csrf(client, page)})


def _age(intent, seconds):
    db.session.execute(text("UPDATE payment_intent SET created_at = :t, expires_at = :e WHERE id = :i"),
                       {"t": intent.created_at - timedelta(seconds=seconds),
                        "e": intent.expires_at - timedelta(seconds=seconds), "i": intent.id})
    db.session.commit()


def test_dropped_callback_is_settled_by_the_return_page(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 2000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00", callback_mode="drop")
    assert r.status_code == 302 and f"/payments/{intent.reference}?" in r.headers["Location"]
    assert wallet.balance(user) == 0  # no callback arrived
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-status="succeeded"' in page
    assert wallet.balance(user) == 2000
    # Reloading the page (or the callback arriving now) changes nothing.
    client.get(r.headers["Location"])
    assert wallet.balance(user) == 2000 and wallet.verify() == []


def test_return_page_never_trusts_its_query_string(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 2000)
    go_to_gateway(client, url)  # the customer opened the bank page but never paid
    page = client.get(f"/payments/{intent.reference}?status=00&txn=SBXFAKE&amount=20.00").get_data(as_text=True)
    assert 'data-status="pending"' in page
    assert fresh(intent).status == IntentStatus.PENDING and wallet.balance(user) == 0


def test_dropped_callback_and_no_return_is_settled_by_reconcile(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 2500)
    submit_gateway(client, go_to_gateway(client, url), bank_code="PBB0233", outcome="00", callback_mode="drop")
    # The customer closed the browser: nothing came back. Too young to reconcile yet:
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "0 requeried" in out.output and wallet.balance(user) == 0
    _age(intent, app.config["RECONCILE_MIN_AGE_SECONDS"] + 5)
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert out.exit_code == 0, out.output
    assert "1 changed" in out.output and "FIXED" in out.output and intent.reference in out.output
    assert fresh(intent).status == IntentStatus.SUCCEEDED
    assert wallet.balance(user) == 2500 and wallet.verify() == []


def test_pending_authorisation_waits_backs_off_then_check_again_settles(app, client):
    user = make_user(tier="primary", kind="company")
    intent, url = start_topup(app, client, user, 5000, bank_code="MBB0228")
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MBB0228", outcome="99", callback_mode="drop")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-status="pending"' in page and "second approver" in page
    assert fresh(intent).pending_reason == "awaiting_approver"
    _age(intent, app.config["RECONCILE_MIN_AGE_SECONDS"] + 5)
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "1 requeried, 0 changed" in out.output
    first = fresh(intent)
    assert first.status == IntentStatus.PENDING and first.requery_count == 1 and first.next_requery_at
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "0 requeried" in out.output  # backing off
    # The company's second approver approves at the bank (the callback is lost again).
    txn = store.get(first.gateway_txn_id)
    store.set_status(txn["txn_id"], "00")
    r = _check_again(client, intent)
    assert r.status_code == 302
    assert fresh(intent).status == IntentStatus.SUCCEEDED and wallet.balance(user) == 5000


def test_reconcile_gives_up_after_the_banks_timeout_and_a_late_payment_still_credits(app, client):
    assert app.config["RECONCILE_GIVE_UP_SECONDS"] >= 3 * 3600
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1200, bank_code="MBB0228")
    submit_gateway(client, go_to_gateway(client, url), bank_code="MBB0228", outcome="99", callback_mode="drop")
    _age(intent, app.config["RECONCILE_GIVE_UP_SECONDS"] + 60)
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "expired" in out.output
    assert fresh(intent).status == IntentStatus.EXPIRED
    txn = store.get(fresh(intent).gateway_txn_id)
    store.set_status(txn["txn_id"], "00")
    _check_again(client, intent)
    # "check again" only requeries pending intents; reconcile no longer looks at expired ones,
    # but the bank's callback (signed) still credits it:
    from ebiz.payments.signing import sign

    body = store.message(store.get(txn["txn_id"]))
    r = client.post("/payments/callback/sandbox", data=body,
                    headers={"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], body)})
    assert r.json["outcome"] == "applied"
    intent = fresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED and intent.needs_review and wallet.balance(user) == 1200


def test_never_paid_intent_expires_after_its_ttl(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000)
    go_to_gateway(client, url)
    _age(intent, app.config["PAYMENT_INTENT_TTL_SECONDS"] + 5)
    app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert fresh(intent).status == IntentStatus.EXPIRED and wallet.balance(user) == 0


def test_gateway_unreachable_says_we_wait_for_the_banks_answer(app, client):
    user = make_user(tier="primary")
    intent, _url = start_topup(app, client, user, 1000)
    app.config["SANDBOX_GATEWAY_URL"] = "http://127.0.0.1:9"  # nothing listens there
    page = client.get(f"/payments/{intent.reference}?status=00").get_data(as_text=True)
    assert 'data-status="pending"' in page and "not yet received the bank" in page
    r = client.post(f"/payments/{intent.reference}/check",
                    data={"csrf_token": csrf(client, f"/payments/{intent.reference}")}, follow_redirects=True)
    assert "could not be reached" in r.get_data(as_text=True)
    assert fresh(intent).pending_reason == "awaiting_answer"


def test_card_flows_decline_retry_pending_and_invalid(app, client):
    user = make_user(tier="primary")
    cases = [("4000000000000002", IntentStatus.FAILED, 0), ("5555555555554444", IntentStatus.SUCCEEDED, 1000),
             ("4000000000003220", IntentStatus.PENDING, 0)]
    total = 0
    for number, status, credit in cases:
        intent, url = start_topup(app, client, user, 1000, method="card", bank_code=None)
        r = submit_gateway(client, go_to_gateway(client, url), card_number=number, expiry="12/30", cvv="123")
        client.get(r.headers["Location"])
        total += credit
        assert fresh(intent).status == status and wallet.balance(user) == total
    # Retry: the first try is refused with "try again", the second goes through.
    intent, url = start_topup(app, client, user, 1000, method="card", bank_code=None)
    html = go_to_gateway(client, url)
    r = submit_gateway(client, html, card_number="4000 0000 0000 0119", expiry="12/30", cvv="123")
    assert r.status_code == 402 and "try again" in r.get_data(as_text=True)
    r = submit_gateway(client, r.get_data(as_text=True), card_number="4000000000000119", expiry="12/30", cvv="123")
    client.get(r.headers["Location"])
    assert fresh(intent).status == IntentStatus.SUCCEEDED
    # Not a Luhn-valid card: refused at the gateway, nothing changes.
    intent, url = start_topup(app, client, user, 1000, method="card", bank_code=None)
    r = submit_gateway(client, go_to_gateway(client, url), card_number="4111111111111112", expiry="12/30", cvv="123")
    assert r.status_code == 400 and fresh(intent).status == IntentStatus.PENDING
    # A good number with an expired card, a month that is none, or a CVV that is not three digits: refused too.
    last_month = (to_local(utcnow()).date().replace(day=1) - timedelta(days=1)).strftime("%m/%y")
    for expiry, cvv in ((last_month, "123"), ("13/30", "123"), ("12/30", "1"), ("12/30", "12a")):
        r = submit_gateway(client, go_to_gateway(client, url), card_number="4111111111111111", expiry=expiry,
                           cvv=cvv)
        assert r.status_code == 400, (expiry, cvv)
    assert fresh(intent).status == IntentStatus.PENDING


def test_no_card_data_is_stored_in_ebiz(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000, method="card", bank_code=None)
    r = submit_gateway(client, go_to_gateway(client, url), card_number="4111111111111111", expiry="12/30",
                       cvv="987")
    client.get(r.headers["Location"])
    assert fresh(intent).status == IntentStatus.SUCCEEDED
    cells = []
    for table in ("payment_intent", "payment_event", "audit_event", "outbox_message", "ledger_posting"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            cells += [value for value in row if isinstance(value, str)]
    blob = "\n".join(cells)
    # Text cells only, and the CVV as a token of its own: timestamps and references may contain "987" by chance.
    assert "4111111111111111" not in blob and "12/30" not in blob
    assert not re.search(r"(?<![0-9A-Za-z])987(?![0-9A-Za-z])", blob)


def test_other_customers_cannot_see_a_payment_or_its_receipt(app, client):
    owner, other = make_user(tier="primary"), make_user(tier="primary")
    intent, url = start_topup(app, client, owner, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00")
    client.get(r.headers["Location"])
    assert client.get(f"/payments/{intent.reference}/receipt").status_code == 200
    sign_in(client, other)
    for path in ("", "/receipt", "/receipt.pdf"):
        assert client.get(f"/payments/{intent.reference}{path}").status_code == 404
    assert intent.reference not in client.get("/payments/history").get_data(as_text=True)


def test_receipt_is_numbered_emailed_printable_and_in_history(app, client):
    from ebiz.notifications.models import OutboxMessage

    user = make_user(tier="primary")
    refs = []
    for amount in (1000, 1100):
        intent, url = start_topup(app, client, user, amount)
        r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00")
        client.get(r.headers["Location"])
        refs.append(fresh(intent))
    numbers = [i.receipt_no for i in refs]
    assert numbers[0][-6:] == "000001" and numbers[1][-6:] == "000002"
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payments_receipt")).all()
    assert sorted(m.subject.split()[-1] for m in mails) == sorted(numbers)
    history = client.get("/payments/history").get_data(as_text=True)
    assert all(n in history for n in numbers)
    html = client.get(f"/payments/{refs[0].reference}/receipt").get_data(as_text=True)
    assert numbers[0] in html and "RM 10.00" in html
    pdf = client.get(f"/payments/{refs[0].reference}/receipt.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_reconcile_report_is_kept_as_an_audit_event(app, client):
    from ebiz.audit.models import AuditEvent

    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000)
    submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00", callback_mode="drop")
    _age(intent, app.config["RECONCILE_MIN_AGE_SECONDS"] + 5)
    app.test_cli_runner().invoke(args=["payments", "reconcile"])
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payments.reconciled"))
    assert ev.details["requeried"] == 1 and ev.details["fixed"] == [f"{intent.reference}: pending -> succeeded"]


def test_reconcile_never_expires_a_payment_while_the_gateway_does_not_answer(app, client):
    """Paid at the bank, callback lost, and the gateway down whenever we ask: the intent stays
    pending past its lifetime, goes to staff review after the give-up age, and settles once the
    gateway answers again."""
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1500)
    submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00", callback_mode="drop")
    app.config["SANDBOX_GATEWAY_URL"] = "http://127.0.0.1:9"  # nothing listens there
    _age(intent, app.config["PAYMENT_INTENT_TTL_SECONDS"] + 60)
    app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert fresh(intent).status == IntentStatus.PENDING and not fresh(intent).needs_review
    _age(intent, app.config["RECONCILE_GIVE_UP_SECONDS"])
    db.session.execute(text("UPDATE payment_intent SET next_requery_at = NULL WHERE id = :i"), {"i": intent.id})
    db.session.commit()
    out = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "gateway unavailable" in out.output
    flagged = fresh(intent)
    assert flagged.status == IntentStatus.PENDING and flagged.needs_review and flagged.review_note == "gateway_silent"
    app.config["SANDBOX_GATEWAY_URL"] = ""  # the gateway is back
    db.session.execute(text("UPDATE payment_intent SET next_requery_at = NULL WHERE id = :i"), {"i": intent.id})
    db.session.commit()
    app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert fresh(intent).status == IntentStatus.SUCCEEDED and wallet.balance(user) == 1500


def test_staff_see_a_customers_payment_only_after_their_two_factor_step(app, client):
    from tests.factories import login_session

    owner = make_user(tier="primary")
    intent, url = start_topup(app, client, owner, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00")
    client.get(r.headers["Location"])
    assert client.get(f"/payments/{intent.reference}/receipt").status_code == 200
    agent = make_user(role="support_agent")
    staff_client = app.test_client()
    login_session(staff_client, agent, mfa=False)  # password accepted, TOTP step not yet passed
    for path in ("", "/receipt"):
        assert staff_client.get(f"/payments/{intent.reference}{path}").status_code == 404
    login_session(staff_client, agent, mfa=True)
    assert staff_client.get(f"/payments/{intent.reference}/receipt").status_code == 200


def test_an_issued_receipt_keeps_the_payer_it_named(app, client):
    """A later change of name or email (or a company's details) never changes an issued receipt."""
    owner = make_user(tier="primary", full_name="Aminah binti Ali")
    intent, url = start_topup(app, client, owner, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00")
    client.get(r.headers["Location"])
    before = client.get(f"/payments/{intent.reference}/receipt").get_data(as_text=True)
    old_email = owner.email
    owner.full_name, owner.email = "Aminah Ali (new name)", "aminah.new@example.my"
    db.session.commit()
    after = client.get(f"/payments/{intent.reference}/receipt").get_data(as_text=True)
    assert "Aminah binti Ali" in after and old_email in after and "new name" not in after
    assert re.findall(r'data-testid="receipt-customer">([^<]*)<', before) == \
        re.findall(r'data-testid="receipt-customer">([^<]*)<', after)


def test_a_failed_payment_says_why_and_offers_to_try_again(app, client):
    user = make_user(tier="primary")
    intent, url = start_topup(app, client, user, 1000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="51")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-status="failed"' in page and 'data-testid="try-again"' in page
    assert "tidak mencukupi" in page or "not enough funds" in page
    assert wallet.balance(user) == 0
