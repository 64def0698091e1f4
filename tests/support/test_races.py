"""Twin requests at once on one ticket (both databases; PostgreSQL row locks, SQLite write lock)."""

from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.payments.models import RefundRequest
from ebiz.support import service
from ebiz.support.models import Ticket
from ebiz.tokens import fingerprint, make_token
from tests.factories import make_user
from tests.races import race

from .helpers import open_ticket, paid_order_intent


def test_a_rating_sent_twice_at_once_counts_once(app):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer)
    service.agent_reply(ticket, agent, body="Done", next_status="resolved")
    db.session.commit()
    ref = ticket.reference

    def rate(stars):
        t = db.session.scalar(select(Ticket).where(Ticket.reference == ref))
        service.rate(t, customer, rating=stars)

    results = race(app, rate, [(5,), (1,)])
    assert sorted(results) == ["Conflict", "ok"], results
    db.session.rollback()  # a fresh snapshot: the racers committed after this session last read
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "support.ticket.rated")) == 1


def test_a_refund_sent_twice_at_once_is_queued_once(app):
    user = make_user(tier=Tier.PRIMARY)
    intent = paid_order_intent(user)
    agent = make_user(role=Role.SUPPORT)
    ticket = open_ticket(user)
    service.assign(ticket, agent, agent)
    db.session.commit()
    ref, pay = ticket.reference, intent.reference
    results = race(app, lambda: service.refund_payment(ref, agent, payment_ref=pay, amount_sen=800, note="twice"),
                   [(), ()])
    assert results == ["ok", "ok"], results
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 1


def test_an_email_change_link_opened_twice_at_once_changes_once(app):
    user = make_user(email="lama@contoh.my")
    agent = make_user(role=Role.SUPPORT)
    ticket = open_ticket(user, category="account")
    service.assign(ticket, agent, agent)
    db.session.commit()
    token = make_token("support-email-change", {"u": user.id, "e": "baru@contoh.my", "t": ticket.reference,
                                                "fp": fingerprint(user.id, user.email)})
    results = race(app, lambda: service.confirm_email_change(token), [(), ()])
    assert sorted(results) == ["ValidationError", "ok"], results
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "account.email_changed")) == 1
