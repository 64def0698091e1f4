"""Mail in: messages to the support address become tickets or replies to their ticket.

`receive(raw, mail_from)` decides, in this order, and returns what it did:
- "ignored": a bounce or an automatic reply (empty or MAILER-DAEMON/postmaster sender,
  Auto-Submitted other than "no", X-Autoreply/X-Autorespond, Precedence bulk/junk/list/
  auto_reply, a delivery report), or mail from our own addresses: nothing is written and
  nothing is sent back, so two robots never talk to each other.
- "duplicate": a Message-ID already stored (a redelivery).
- "reply": the subject carries a ticket reference (SR-XXXX-XXXX) of an active or recently
  resolved ticket AND the sender is the ticket's email (or its customer's account email).
- "refused": a reference that names no ticket, or whose ticket belongs to another address
  (a forged reference): nothing is added to any ticket; the event is audited.
- "new": anything else opens a ticket (a known customer's, or an anonymous one for that
  address; a reply to a closed ticket opens a new one), acknowledged by mail.

`SupportSMTPHandler` is the aiosmtpd handler behind `flask support mail-in`: it accepts mail
for SUPPORT_ADDRESS only and answers 250 whatever `receive` decided (a 5xx would make the
sending server bounce to a possibly forged sender: a loop or backscatter).
"""

from __future__ import annotations

import io
import logging
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..audit.service import record
from ..db import begin_write
from ..errors import EbizError
from ..extensions import db
from . import service
from .models import Ticket, TicketMessage

log = logging.getLogger(__name__)
REF_RE = re.compile(r"\bSR-[0-9A-Z]{4}-[0-9A-Z]{4}\b", re.IGNORECASE)
ROBOT_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply")
MAX_BODY = 20000


def is_automatic(msg: EmailMessage, mail_from: str | None) -> bool:
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    envelope = (mail_from or "").strip("<>").lower()
    if mail_from is not None and envelope == "":
        return True  # the null sender: a bounce
    if not sender or sender.split("@")[0] in ROBOT_SENDERS or envelope.split("@")[0] in ROBOT_SENDERS:
        return True
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress", "").lower() == "all":
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    return msg.get_content_type() == "multipart/report"


def _ours(address: str) -> bool:
    cfg = current_app.config
    mine = {parseaddr(cfg.get("MAIL_DEFAULT_SENDER", ""))[1].lower(), cfg["SUPPORT_ADDRESS"].lower()}
    return address in mine


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = part.get_content()
    if part.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    # Keep what the customer wrote, not the quoted thread below it.
    lines = []
    for line in text.splitlines():
        if line.startswith(">") or re.match(r"^On .+wrote:$|^Pada .+menulis:$", line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip()[:MAX_BODY]


def _uploads(msg: EmailMessage) -> list[service.Upload]:
    out = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        if service.sniff(data[:16]):
            out.append(service.Upload(io.BytesIO(data), part.get_filename() or "attachment"))
    return out[:service.MAX_FILES]


def _sender_may_reply(ticket: Ticket, sender: str) -> bool:
    if ticket.email and ticket.email.lower() == sender:
        return True
    if ticket.customer_id is not None:
        user = db.session.get(User, ticket.customer_id)
        return user is not None and user.email.lower() == sender
    return False


def receive(raw: bytes, mail_from: str | None = None) -> str:
    """Handle one inbound message (see the module docstring); the caller commits."""
    msg = message_from_bytes(raw, policy=default_policy)
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    if is_automatic(msg, mail_from) or _ours(sender):
        log.info("support mail-in: ignored automatic mail from %r", sender)
        return "ignored"
    message_id = str(msg.get("Message-ID", "")).strip()[:250] or None
    if message_id and db.session.scalar(select(TicketMessage.id).where(TicketMessage.email_message_id == message_id)):
        return "duplicate"
    subject = " ".join(str(msg.get("Subject", "")).split())[:200] or "(no subject)"
    body = _body(msg) or "(empty message)"
    begin_write()
    found = REF_RE.search(subject)
    if found:
        ref = service.normalise_reference(found.group(0))
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == ref))
        if ticket is None or not _sender_may_reply(ticket, sender):
            record("support.mail.refused", target_type="Ticket", target_id=getattr(ticket, "id", None),
                   reference=ref, sender=sender[:254])
            return "refused"
        if ticket.email_confirmed_at is None:
            ticket.email_confirmed_at = service.utcnow()  # answering our mail proves the address
        try:
            service.customer_reply(ticket, author=_customer(sender) if ticket.customer_id else None,
                                   body=body, uploads=_uploads(msg), via="email", email_message_id=message_id)
            return "reply"
        except EbizError:
            pass  # closed, or resolved too long ago: the mail opens a new ticket below
    customer = _customer(sender)
    name = parseaddr(str(msg.get("From", "")))[0].strip()[:200] or sender
    try:
        ticket = service.open_ticket(customer=customer, name=name, email=sender, category="products",
                                     subject=subject, body=body, locale=_locale_of(customer),
                                     uploads=_uploads(msg), channel="email", email_confirmed=True,
                                     email_message_id=message_id)
    except EbizError as exc:
        log.warning("support mail-in: could not open a ticket from %r: %s", sender, exc)
        return "refused"
    log.info("support mail-in: opened %s from %r", ticket.reference, sender)
    return "new"


def _customer(sender: str) -> User | None:
    user = db.session.scalar(select(User).where(func.lower(User.email) == sender))
    return user if user is not None and not user.is_staff else None


def _locale_of(customer: User | None) -> str:
    return (customer.locale if customer is not None and customer.locale else
            current_app.config["BABEL_DEFAULT_LOCALE"])


class SupportSMTPHandler:
    """aiosmtpd handler: mail for the support address goes through `receive` in an app context."""

    def __init__(self, app):
        self.app = app

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd)
        wanted = self.app.config["SUPPORT_ADDRESS"].lower()
        if parseaddr(address)[1].lower() != wanted:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        with self.app.app_context():
            try:
                outcome = receive(envelope.content, envelope.mail_from)
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                outcome = "duplicate"
            except Exception:
                db.session.rollback()
                log.exception("support mail-in failed")
                return "451 4.3.0 Try again later"
            finally:
                db.session.remove()
        log.info("support mail-in: %s", outcome)
        return "250 OK"

