"""Wallet ledger rules: spending, refunds, counter top-ups, limits, adjustments, verify, append-only."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from ebiz.audit.models import AuditEvent
from ebiz.errors import Conflict, Forbidden, InsufficientFunds, TierRequired, ValidationError
from ebiz.extensions import db
from ebiz.payments.models import IntentStatus, PaymentIntent
from ebiz.sequences import DocumentSequence
from ebiz.wallet import service as wallet
from ebiz.wallet.models import AppendOnlyError, LedgerEntry, LedgerPosting
from tests.factories import make_counter, make_user
from tests.payments.helpers import topup_intent

from .helpers import fund, spend


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_spend_debits_wallet_credits_revenue_and_issues_receipt(app):
    user = make_user(tier="primary")
    fund(user, 5000)
    intent = spend(user, 1200)
    db.session.commit()
    assert intent.status == IntentStatus.SUCCEEDED and intent.receipt_no
    assert wallet.balance(user) == 3800
    posting = db.session.scalar(select(LedgerPosting).where(LedgerPosting.kind == "spend"))
    amounts = sorted((e.account.code, e.amount_sen) for e in posting.entries)
    assert amounts == [("revenue", 1200), (f"wallet:{user.id}", -1200)]
    assert wallet.verify() == []


def test_insufficient_funds_writes_nothing(app):
    user = make_user(tier="primary")
    fund(user, 1000)
    postings, seq = _count(LedgerPosting), _count(DocumentSequence)
    with pytest.raises(InsufficientFunds):
        spend(user, 1001, key="k1")
    db.session.commit()  # what the caller may commit after catching it: the pending intent only
    assert wallet.balance(user) == 1000
    assert _count(LedgerPosting) == postings and _count(DocumentSequence) == seq
    intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.idempotency_key == "k1"))
    assert intent.status == IntentStatus.PENDING and intent.receipt_no is None
    assert wallet.verify() == []


def test_same_idempotency_key_returns_the_same_intent_and_spends_once(app):
    user = make_user(tier="primary")
    fund(user, 5000)
    first = spend(user, 1000, key="same")
    db.session.commit()
    again = spend(user, 1000, key="same")
    db.session.commit()
    assert again.id == first.id and wallet.balance(user) == 4000
    with pytest.raises(Conflict):
        spend(user, 2000, key="same")


def test_regular_customers_have_no_wallet(app, client):
    regular = make_user(tier="regular")
    assert not wallet.has_wallet(regular) and wallet.balance(regular) == 0
    with pytest.raises(TierRequired):
        spend(regular, 100)
    with pytest.raises(TierRequired):
        wallet.start_topup(regular, 2000, method="fpx", bank_code="MB2U0227", idempotency_key="x")
    db.session.rollback()
    from tests.payments.helpers import sign_in

    sign_in(client, regular)
    page = client.get("/wallet/").get_data(as_text=True)
    assert 'data-testid="no-wallet"' in page and "counter" in page and "Primary" in page
    assert 'data-testid="no-wallet"' in client.get("/wallet/topup").get_data(as_text=True)


def test_refund_to_wallet_is_idempotent(app):
    user = make_user(tier="primary")
    wallet.refund_to_wallet(user, 700, idempotency_key="order-cancel:1", memo="refund")
    wallet.refund_to_wallet(user, 700, idempotency_key="order-cancel:1", memo="refund")
    db.session.commit()
    assert wallet.balance(user) == 700 and wallet.verify() == []


def test_hq_counter_topup_rules(app):
    hq, sgr = make_counter("HQ"), make_counter("SGR")
    hq_staff = make_user(role="counter_staff", counter=hq)
    sgr_staff = make_user(role="counter_staff", counter=sgr)
    admin = make_user(role="admin")
    customer, regular = make_user(tier="primary"), make_user(tier="regular")
    wallet.topup_at_counter(staff=hq_staff, customer=customer, amount_sen=10000, receipt_no="hq-0001", ip="10.0.0.1")
    db.session.commit()
    # The same receipt again (a double click, a retry): no second top-up.
    wallet.topup_at_counter(staff=hq_staff, customer=customer, amount_sen=10000, receipt_no="HQ-0001")
    db.session.commit()
    assert wallet.balance(customer) == 10000
    with pytest.raises(Conflict):
        wallet.topup_at_counter(staff=hq_staff, customer=customer, amount_sen=5000, receipt_no="HQ-0001")
    db.session.rollback()
    for staff in (sgr_staff, admin):
        with pytest.raises(Forbidden):
            wallet.topup_at_counter(staff=staff, customer=customer, amount_sen=5000, receipt_no="X-1")
        db.session.commit()  # the refusal's audit event is kept
    with pytest.raises(TierRequired):
        wallet.topup_at_counter(staff=hq_staff, customer=regular, amount_sen=5000, receipt_no="HQ-0002")
    db.session.rollback()
    assert wallet.balance(customer) == 10000 and wallet.balance(regular) == 0
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("wallet.counter_topup") == 1 and actions.count("wallet.counter_topup_refused") == 2
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet.counter_topup"))
    assert ev.actor_id == hq_staff.id and ev.ip == "10.0.0.1" and ev.details["receipt_no"] == "HQ-0001"


def test_topup_limits(app):
    cfg = app.config
    user = make_user(tier="primary")
    for amount in (cfg["WALLET_TOPUP_MIN_SEN"] - 1, cfg["WALLET_TOPUP_MAX_SEN"] + 1):
        with pytest.raises(ValidationError) as exc:
            wallet.start_topup(user, amount, method="fpx", bank_code="MB2U0227", idempotency_key=f"k{amount}")
        assert exc.value.field == "amount"
    fund(user, cfg["WALLET_MAX_BALANCE_SEN"] - 500)
    with pytest.raises(ValidationError):
        wallet.start_topup(user, cfg["WALLET_TOPUP_MIN_SEN"], method="fpx", bank_code="MB2U0227", idempotency_key="k")
    db.session.rollback()
    assert _count(PaymentIntent) == 0


def test_topup_that_no_longer_fits_goes_to_the_refund_queue(app, client):
    from ebiz.payments.models import RefundRequest
    from tests.payments.helpers import bank_answers, post_callback

    user = make_user(tier="primary")
    intent = topup_intent(user, 2000)
    fund(user, app.config["WALLET_MAX_BALANCE_SEN"] - 1000)  # filled up at the counter meanwhile
    body, headers = bank_answers(app, intent, "00")
    assert post_callback(client, body, headers).json["outcome"] == "applied"
    assert wallet.balance(user) == app.config["WALLET_MAX_BALANCE_SEN"] - 1000
    refund = db.session.scalar(select(RefundRequest))
    assert refund.amount_sen == 2000 and refund.intent_id == intent.id and refund.status == "open"


def test_adjustments_need_a_second_staff_member(app):
    maker, checker = make_user(role="support_agent"), make_user(role="admin")
    customer = make_user(tier="primary")
    fund(customer, 1000)
    adj = wallet.propose_adjustment(maker, customer, 500, "Goodwill credit for ticket 42")
    db.session.commit()
    assert wallet.balance(customer) == 1000
    with pytest.raises(Forbidden):
        wallet.decide_adjustment(maker, adj.reference, approve=True)
    db.session.rollback()
    assert wallet.balance(customer) == 1000
    wallet.decide_adjustment(checker, adj.reference, approve=True)
    db.session.commit()
    assert wallet.balance(customer) == 1500
    with pytest.raises(Conflict):
        wallet.decide_adjustment(checker, adj.reference, approve=True)
    db.session.rollback()
    # A debit larger than the balance cannot be approved.
    big = wallet.propose_adjustment(maker, customer, -2000, "Reverse a duplicate")
    db.session.commit()
    with pytest.raises(InsufficientFunds):
        wallet.decide_adjustment(checker, big.reference, approve=True)
    db.session.rollback()
    rejected = wallet.propose_adjustment(maker, customer, -100, "Wrong")
    wallet.decide_adjustment(checker, rejected.reference, approve=False)
    db.session.commit()
    assert wallet.balance(customer) == 1500 and wallet.verify() == []
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("wallet.adjustment%"))).all()
    assert actions.count("wallet.adjustment_proposed") == 3 and "wallet.adjustment_approved" in actions
    with pytest.raises(Forbidden):
        wallet.propose_adjustment(make_user(tier="primary"), customer, 100, "self-service?")


def test_entries_are_append_only_and_balance_cannot_go_negative(app):
    user = make_user(tier="primary")
    fund(user, 1000)
    entry = db.session.scalar(select(LedgerEntry))
    entry.amount_sen = 5
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AppendOnlyError):
        db.session.delete(db.session.scalar(select(LedgerPosting)))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE ledger_account SET balance_sen = -1 WHERE user_id = :u"), {"u": user.id})
        db.session.flush()
    db.session.rollback()
    with pytest.raises(ValueError):
        wallet.post("spend", "unbalanced", [(wallet.wallet_account(user), 100),
                                            (wallet.system_account("revenue"), -99)])


def test_verify_cli_finds_a_tampered_balance(app):
    user = make_user(tier="primary")
    fund(user, 1000)
    spend(user, 300)
    db.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["wallet", "verify"])
    assert out.exit_code == 0 and "Ledger sound" in out.output
    db.session.execute(text("UPDATE ledger_account SET balance_sen = balance_sen + 1 WHERE user_id = :u"),
                       {"u": user.id})
    db.session.commit()
    out = runner.invoke(args=["wallet", "verify"])
    assert out.exit_code == 1 and "cached balance 701 != sum of entries 700" in out.output


def test_return_payment_goes_to_the_wallet_or_the_refund_queue(app, client):
    """Money in for something undeliverable: back to the wallet (Primary), else the staff queue."""
    from ebiz.payments import service as payments
    from ebiz.payments.models import RefundRequest
    from tests.payments.helpers import bank_answers, post_callback

    def undeliverable(intent):
        wallet.return_payment(intent, "undeliverable", "X")

    payments.register_payable("test_gone", settle=undeliverable, describe=lambda i: "Gone", return_url=lambda i: "/")
    primary, regular = make_user(tier="primary"), make_user(tier="regular")
    for user in (primary, regular):
        intent = payments.create_intent(user, kind="test_gone", payable_ref="X", amount_sen=4200, method="fpx",
                                        bank_code="MB2U0227", idempotency_key="k")
        db.session.commit()
        body, headers = bank_answers(app, intent, "00")
        assert post_callback(client, body, headers).json["outcome"] == "applied"
    assert wallet.balance(primary) == 4200
    refunds = db.session.scalars(select(RefundRequest)).all()
    assert [(r.user_id, r.amount_sen) for r in refunds] == [(regular.id, 4200)]
    assert wallet.verify() == []
