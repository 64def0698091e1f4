"""Settling a wallet payment touches the contended rows last and briefly: after every other
write, the wallet's conditional debit, then the receipt number, then only the intent's own
UPDATE and the outbox INSERT before the savepoint ends (see payments.service._succeed)."""

from sqlalchemy import event, select

from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import make_user

from .helpers import fund, spend


def test_wallet_debit_and_receipt_number_come_last(app):
    user = make_user(tier="primary")
    fund(user, 5000)
    spend(user, 100, key="warm")  # creates the revenue account and the year's sequence row
    db.session.commit()
    seen: list[str] = []

    def capture(conn, cursor, statement, *_a):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        intent = spend(user, 300, key="hot")
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    db.session.commit()
    assert intent.receipt_no and intent.receipt_no.endswith("-000002")  # gapless: the warm-up had -000001
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    debit = next(i for i, s in enumerate(writes) if s.startswith("UPDATE ledger_account"))
    number = next(i for i, s in enumerate(writes) if s.startswith("UPDATE document_sequence"))
    assert debit < number
    before, after = writes[:debit], writes[number + 1:]
    assert any(s.startswith("INSERT INTO ledger_posting") for s in before)
    assert any(s.startswith("INSERT INTO ledger_entry") for s in before)
    assert any(s.startswith("INSERT INTO audit_event") for s in before)
    assert any(s.startswith("INSERT INTO payment_event") for s in before)
    # Under the receipt-number lock: only the intent's single UPDATE and the receipt mail.
    assert sorted(s.split()[0] + " " + s.split()[1 if s.startswith("UPDATE") else 2] for s in after) == \
        ["INSERT outbox_message", "UPDATE payment_intent"]
    assert sum(s.startswith("UPDATE payment_intent") for s in writes) == 1
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payments_receipt")
                              .order_by(OutboxMessage.id.desc()).limit(1)).one()
    assert intent.receipt_no in mail.subject and intent.receipt_no in mail.body_text
    assert "[[receipt-no]]" not in mail.subject + mail.body_text
