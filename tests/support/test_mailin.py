"""Mail in, through a real SMTP server on loopback (the service `flask support mail-in` runs)."""

import smtplib
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.notifications.service import _build
from ebiz.support import service
from ebiz.support.mailin import SupportSMTPHandler
from ebiz.support.models import Ticket, TicketAttachment, TicketMessage
from tests.factories import make_user
from tests.services import free_port

from .helpers import PDF


@pytest.fixture
def mailin(app):
    port = free_port()
    controller = Controller(SupportSMTPHandler(app), hostname="127.0.0.1", port=port)
    controller.start()
    db.session.commit()  # nothing of the test's own transaction stays open while the server writes

    def send(sender: str, subject: str, body: str = "Hello", *, to: str | None = None, envelope: str | None = None,
             headers: dict | None = None, attach: bytes | None = None, message_id: str | None = None):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to or app.config["SUPPORT_ADDRESS"], subject
        if message_id:
            msg["Message-ID"] = message_id
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        if attach:
            msg.add_attachment(attach, maintype="application", subtype="pdf", filename="slip.pdf")
        db.session.commit()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.send_message(msg, from_addr=sender if envelope is None else envelope,
                           to_addrs=[to or app.config["SUPPORT_ADDRESS"]])
        db.session.expire_all()

    yield send
    controller.stop()


def _tickets():
    db.session.expire_all()
    return db.session.scalars(select(Ticket).order_by(Ticket.id)).all()


def test_mail_opens_a_ticket_and_a_reply_threads_to_it(app, mailin):
    customer = make_user(email="siti@contoh.my", locale="ms")
    mailin("Siti <Siti@contoh.my>", "Resit tidak sampai", "Saya belum terima resit.", attach=PDF)
    (ticket,) = _tickets()
    assert (ticket.customer_id, ticket.channel, ticket.status, ticket.locale) == (customer.id, "email", "new", "ms")
    assert ticket.subject == "Resit tidak sampai" and ticket.email_confirmed_at is not None
    assert db.session.scalar(select(TicketAttachment)).content_type == "application/pdf"
    ack = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "siti@contoh.my")).all()
    assert len(ack) == 1 and ticket.reference in ack[0].subject
    with app.app_context():  # answers to our mail come back to the desk, which threads them
        assert _build(ack[0])["Reply-To"] == app.config["SUPPORT_ADDRESS"]
    agent = make_user(role=Role.SUPPORT)
    service.agent_reply(ticket, agent, body="Sila semak semula.", next_status="waiting")
    db.session.commit()
    mailin("siti@contoh.my", f"Re: [{ticket.reference.lower()}] Resit tidak sampai",
           "Sudah, terima kasih.\n\nOn Fri, eBiz wrote:\n> Sila semak semula.", message_id="<r1@contoh.my>")
    (ticket,) = _tickets()
    assert ticket.status == "open"
    bodies = [m.body for m in ticket.messages]
    assert bodies[-1] == "Sudah, terima kasih." and [m.via for m in ticket.messages][-1] == "email"
    # The same message delivered twice is one reply.
    mailin("siti@contoh.my", f"Re: [{ticket.reference}] Resit tidak sampai", "Sudah, terima kasih.",
           message_id="<r1@contoh.my>")
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 3


@pytest.mark.parametrize("headers,envelope,sender", [
    ({"Auto-Submitted": "auto-replied"}, None, "siti@contoh.my"),
    ({"X-Autoreply": "yes"}, None, "siti@contoh.my"),
    ({"Precedence": "bulk"}, None, "siti@contoh.my"),
    ({}, "", "siti@contoh.my"),  # the null envelope sender: a bounce
    ({}, None, "MAILER-DAEMON@mx.contoh.my"),
])
def test_auto_replies_and_bounces_are_ignored(app, mailin, headers, envelope, sender):
    make_user(email="siti@contoh.my")
    mailin(sender, "Out of office: [SR-7KQ4-92XM]", "I am away", headers=headers, envelope=envelope)
    assert _tickets() == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # nothing sent back: no loop


def test_our_own_mail_coming_back_is_ignored(app, mailin):
    mailin(app.config["SUPPORT_ADDRESS"], "Hello", "loop?")
    assert _tickets() == []


def test_a_forged_reference_is_refused(app, mailin):
    owner = make_user(email="owner@contoh.my")
    ticket = service.open_ticket(customer=owner, name="", email=None, category="account", subject="Lost access",
                                 body="Help")
    db.session.commit()
    mailin("attacker@jahat.my", f"Re: [{ticket.reference}] Lost access", "Please change the email to mine")
    mailin("attacker@jahat.my", "Re: [SR-2222-3333] anything", "guess")
    (only,) = _tickets()
    assert [m.body for m in only.messages] == ["Help"]
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "support.mail.refused")).all()
    assert {e.details["reference"] for e in refused} == {ticket.reference, "SR-2222-3333"}


def test_mail_for_another_mailbox_is_rejected_at_rcpt(app, mailin):
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mailin("siti@contoh.my", "Hello", to="someone@ebiz.example.my")
    assert _tickets() == []
