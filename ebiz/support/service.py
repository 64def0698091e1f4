"""The support desk's rules: tickets, replies, SLAs, attachments, and the actions a ticket backs.

Invariants:
- A ticket moves only along TRANSITIONS (state, event) -> state; anything else is a Conflict
  that says so. A customer's reply reopens a resolved ticket within SUPPORT_REOPEN_DAYS of
  its resolution; after that (or once closed) it is refused and a new ticket is suggested.
- SLAs run in working hours (workhours.py): first response and resolution deadlines are set
  at opening; while the ticket waits for the customer the resolution clock is paused and the
  paused working time is added to the deadline when the customer answers.
- Whoever is not the ticket's customer (nor holds its confirmed email link) nor support staff
  sees nothing: lookups answer NotFound, never "forbidden", so references cannot be probed.
- Identity documents go only to the agent the ticket is assigned to; each view is audited.
- Every reply an agent sends is mailed to the customer in the ticket's language; notes never.
- An account action backed by a ticket (`ticket_for_action`) needs an open ticket assigned to
  the acting agent; the action, the ticket and the agent are recorded together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from ..accounts import identity
from ..accounts.models import Role, User
from ..accounts.service import change_email_on_evidence, find_by_login, public_url
from ..audit.models import AuditEvent
from ..audit.service import record
from ..clock import from_local, utcnow
from ..db import LIKE_ESCAPE, like_escape, lock_one
from ..delivery.service import adjust_allowance, entitlement_by_ref
from ..delivery.storage import get_storage
from ..errors import Conflict, EbizError, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..notifications.service import queue_mail
from ..orders.service import order_for_owner
from ..payments import service as payments
from ..payments.models import RefundReason
from ..refs import ALPHABET
from ..tokens import TokenError, fingerprint, make_token, read_token
from . import workhours
from .models import CATEGORIES, AgentCategory, CannedReply, Ticket, TicketAction, TicketAttachment, TicketMessage

# Working hours to first response and to resolution, per category.
CATEGORY_SLA = {
    "account": (4, 16),
    "payment": (2, 9),
    "products": (8, 27),
    "downloads": (4, 16),
    "applications": (8, 45),
    "counters": (8, 27),
    "complaints": (4, 27),
}
CATEGORY_LABELS = {
    "account": _l("Account and sign-in"),
    "payment": _l("Payment and receipts"),
    "products": _l("Products and data"),
    "downloads": _l("Downloads"),
    "applications": _l("Applications and remit"),
    "counters": _l("Counters and companies"),
    "complaints": _l("Complaints"),
}
STATUS_LABELS = {
    "new": _l("New"),
    "open": _l("Open"),
    "waiting": _l("Waiting for the customer"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
LINK_KINDS = {
    "order": _l("Order"),
    "payment": _l("Payment"),
    "download": _l("Download"),
    "application": _l("Application"),
}
# Items only staff-side openers link a ticket to (never offered to, nor accepted from, customers).
STAFF_LINK_KINDS = {
    "legacy": _l("Old-system account"),  # the migration desk's "my old email is no longer in use"
}
ALL_LINK_KINDS = {**LINK_KINDS, **STAFF_LINK_KINDS}
# A ticket opened for someone with no working email (channel "no-email"): its `email` is the dead
# address on record (staff can find the ticket by it) and nothing is ever mailed to it; the customer
# quotes the reference on the phone or at a counter.
NO_MAIL_CHANNEL = "no-email"
assert set(CATEGORY_SLA) == set(CATEGORIES) == set(CATEGORY_LABELS)

# The one table of what may happen to a ticket: (state, event) -> new state.
TRANSITIONS = {
    ("new", "agent_reply"): "open",
    ("open", "agent_reply"): "open",
    ("waiting", "agent_reply"): "open",
    ("new", "ask_customer"): "waiting",
    ("open", "ask_customer"): "waiting",
    ("waiting", "ask_customer"): "waiting",
    ("new", "resolve"): "resolved",
    ("open", "resolve"): "resolved",
    ("waiting", "resolve"): "resolved",
    ("new", "customer_reply"): "new",
    ("open", "customer_reply"): "open",
    ("waiting", "customer_reply"): "open",
    ("resolved", "customer_reply"): "open",  # reopened (only within SUPPORT_REOPEN_DAYS)
    ("new", "assign"): "open",
    ("open", "assign"): "open",
    ("waiting", "assign"): "waiting",
    ("resolved", "close"): "closed",
    ("new", "merge"): "closed",
    ("open", "merge"): "closed",
    ("waiting", "merge"): "closed",
}
ACTIVE = ("new", "open", "waiting")

MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)
MAX_FILES = 5


def _cfg(key: str):
    return current_app.config[key]


def _subdiv() -> str | None:
    return _cfg("SUPPORT_HOLIDAY_SUBDIV") or None


def new_reference() -> str:
    """SR-XXXX-XXXX from the Crockford alphabet (no I, L, O, U): 40 random bits, easy to read aloud."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"SR-{body[:4]}-{body[4:]}"


def normalise_reference(ref: str) -> str:
    """What a customer types or says: any case, spaces, O for 0, I/L for 1."""
    s = (ref or "").strip().upper().replace(" ", "")
    s = s.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if s.startswith("SR") and not s.startswith("SR-"):
        s = "SR-" + s[2:]
    if len(s) == 11 and s[7] != "-":
        s = s[:7] + "-" + s[7:]
    return s[:12]


def lock(ticket: Ticket) -> Ticket:
    """The ticket's row, locked until the commit (PostgreSQL; SQLite's write transaction already
    serialises writers), re-read: two requests acting on one ticket take turns."""
    locked = lock_one(select(Ticket).where(Ticket.id == ticket.id))
    if locked is None:
        raise NotFound()
    return locked


def transition(ticket: Ticket, event: str) -> str:
    to = TRANSITIONS.get((ticket.status, event))
    if to is None:
        raise Conflict(_l("This ticket is %(status)s: that cannot be done now.",
                          status=STATUS_LABELS[ticket.status]))
    now = utcnow()
    was = ticket.status
    if was == "waiting" and to != "waiting" and ticket.waiting_since is not None:
        paused = workhours.working_between(ticket.waiting_since, now, _subdiv())
        ticket.resolution_due = workhours.add_working(ticket.resolution_due, paused, _subdiv())
        ticket.waiting_since = None
    if to == "waiting" and was != "waiting":
        ticket.waiting_since = now
    if to == "resolved":
        ticket.resolved_at = now
    if was == "resolved" and to == "open":
        ticket.resolved_at = None
    if to == "closed":
        ticket.closed_at = now
    ticket.status = to
    ticket.updated_at = now
    _set_due(ticket)
    return to


def _set_due(ticket: Ticket) -> None:
    if ticket.status not in ("new", "open"):
        ticket.due_at = None
    elif ticket.first_responded_at is None:
        ticket.due_at = ticket.first_response_due
    else:
        ticket.due_at = ticket.resolution_due


def label_of(ticket: Ticket) -> str:
    return str(CATEGORY_LABELS[ticket.category])


# -- opening -----------------------------------------------------------------------------------

@dataclass
class Upload:
    stream: BinaryIO
    filename: str
    is_identity: bool = False


def _check_link(customer: User | None, kind: str | None, ref: str | None) -> tuple[str | None, str | None]:
    ref = (ref or "").strip().upper()[:40]
    if not kind or not ref:
        return None, None
    if kind not in LINK_KINDS:
        raise ValidationError(_l("Not a valid choice."), field="linked_kind")
    if customer is not None:
        try:
            if kind == "order":
                order_for_owner(ref, customer)
            elif kind == "payment":
                payments.get_for_user(customer, ref)
            elif kind == "download":
                ent = entitlement_by_ref(ref)
                if ent.user_id != customer.id:
                    raise NotFound()
            # An application reference is kept as given: the applications domain checks its own.
        except NotFound:
            raise ValidationError(_l("We could not find this item among yours."), field="linked_ref") from None
    return kind, ref


def open_ticket(*, customer: User | None, name: str, email: str | None, category: str, subject: str,
                body: str, locale: str = "ms", linked_kind: str | None = None, linked_ref: str | None = None,
                uploads: list[Upload] | None = None, channel: str = "web", ip: str | None = None,
                email_confirmed: bool = False, email_message_id: str | None = None) -> Ticket:
    """Open a ticket. A signed-in customer's replies go to their account's email; an anonymous
    ticket waits (out of the queue) until its email address is confirmed by the link we send."""
    if category not in CATEGORIES:
        raise ValidationError(_l("Not a valid choice."), field="category")
    subject = (subject or "").strip()
    body = (body or "").strip()
    if not subject:
        raise ValidationError(_l("This field is required."), field="subject")
    if not body:
        raise ValidationError(_l("This field is required."), field="body")
    if customer is not None:
        email = customer.email
        name = customer.display_name
        confirmed = utcnow()
    else:
        email = identity.normalise_email(email or "", field="email")
        if not (name or "").strip():
            raise ValidationError(_l("This field is required."), field="name")
        confirmed = utcnow() if email_confirmed else None
    linked_kind, linked_ref = _check_link(customer, linked_kind, linked_ref)
    now = utcnow()
    first_h, res_h = CATEGORY_SLA[category]
    ticket = Ticket(reference=_unique_reference(), customer_id=getattr(customer, "id", None), email=email,
                    email_confirmed_at=confirmed, name=name.strip()[:200], locale=_locale(locale),
                    category=category, subject=subject[:200], status="new", channel=channel,
                    linked_kind=linked_kind, linked_ref=linked_ref, created_at=now, updated_at=now,
                    first_response_due=workhours.add_working(now, first_h * 3600, _subdiv()),
                    resolution_due=workhours.add_working(now, res_h * 3600, _subdiv()))
    _set_due(ticket)
    db.session.add(ticket)
    db.session.flush()
    msg = _message(ticket, kind="customer", author=customer, body=body, via=channel,
                   email_message_id=email_message_id)
    _attach_all(ticket, msg, uploads, customer)
    record("support.ticket.opened", actor=customer, target=ticket, ip=ip, reference=ticket.reference,
           category=category, channel=channel)
    route(ticket)
    if confirmed is None:
        token = make_token("support-confirm", {"t": ticket.reference, "e": email})
        _mail(ticket, _l("Confirm your email for support request %(ref)s", ref=ticket.reference),
              "support_confirm", link=_public_url("support.confirm", token=token))
    else:
        _mail(ticket, _l("[%(ref)s] We received your request", ref=ticket.reference), "support_received",
              link=_view_link(ticket))
    return ticket


def open_ticket_without_email(*, name: str, email_on_record: str, category: str, subject: str, body: str,
                              linked_kind: str, linked_ref: str, locale: str = "ms",
                              ip: str | None = None) -> Ticket:
    """A ticket for a customer who cannot read mail (the migration desk's "my old email is no
    longer in use"): it enters the queue at once (no address to confirm: the agent checks identity
    by phone or at a counter), is linked to the staff-side item it is about, and is never mailed."""
    if category not in CATEGORIES:
        raise ValidationError(_l("Not a valid choice."), field="category")
    if linked_kind not in STAFF_LINK_KINDS or not (linked_ref or "").strip():
        raise ValidationError(_l("Not a valid choice."), field="linked_kind")
    now = utcnow()
    first_h, res_h = CATEGORY_SLA[category]
    ticket = Ticket(reference=_unique_reference(), customer_id=None,
                    email=(email_on_record or "").strip().lower()[:254] or "-", email_confirmed_at=now,
                    name=(name or "").strip()[:200] or "-", locale=_locale(locale), category=category,
                    subject=subject.strip()[:200], status="new", channel=NO_MAIL_CHANNEL,
                    linked_kind=linked_kind, linked_ref=linked_ref.strip()[:40], created_at=now, updated_at=now,
                    first_response_due=workhours.add_working(now, first_h * 3600, _subdiv()),
                    resolution_due=workhours.add_working(now, res_h * 3600, _subdiv()))
    _set_due(ticket)
    db.session.add(ticket)
    db.session.flush()
    _message(ticket, kind="system", author=None, body=body.strip(), via="web")
    record("support.ticket.opened", target=ticket, ip=ip, reference=ticket.reference, category=category,
           channel=NO_MAIL_CHANNEL)
    route(ticket)
    return ticket


def _unique_reference() -> str:
    for _ in range(10):
        ref = new_reference()
        if db.session.scalar(select(Ticket.id).where(Ticket.reference == ref)) is None:
            return ref
    raise RuntimeError("could not draw a free ticket reference")  # 40 bits: never in practice


def _locale(locale: str | None) -> str:
    return locale if locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _message(ticket: Ticket, *, kind: str, author: User | None, body: str, via: str = "web",
             email_message_id: str | None = None) -> TicketMessage:
    msg = TicketMessage(ticket_id=ticket.id, author_id=getattr(author, "id", None), kind=kind,
                        body=body[:20000], via=via, created_at=utcnow(), email_message_id=email_message_id)
    db.session.add(msg)
    db.session.flush()
    return msg


def confirm_email(token: str, *, ip: str | None = None) -> Ticket:
    """The anonymous customer's link: the ticket enters the queue (idempotent for the same ticket)."""
    try:
        data = read_token("support-confirm", token)
    except TokenError as exc:
        if exc.reason == "expired":
            raise ValidationError(_l("This link has expired. Ask for a new one.")) from None
        raise ValidationError(_l("This link is not valid.")) from None
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == data.get("t")))
    if ticket is None or ticket.email != data.get("e"):
        raise ValidationError(_l("This link is not valid."))
    if ticket.email_confirmed_at is None:
        ticket.email_confirmed_at = utcnow()
        record("support.ticket.email_confirmed", target=ticket, ip=ip, reference=ticket.reference)
        route(ticket)
    return ticket


def access_token(ticket: Ticket) -> str:
    """A link that lets whoever holds the ticket's (confirmed) email follow it without an account."""
    return make_token("support-access", {"t": ticket.reference, "e": ticket.email})


def ticket_from_access_token(token: str) -> Ticket:
    try:
        data = read_token("support-access", token)
    except TokenError:
        raise NotFound() from None
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == data.get("t")))
    if ticket is None or ticket.email != data.get("e") or ticket.email_confirmed_at is None:
        raise NotFound()
    return ticket


def _public_url(endpoint: str, **values) -> str:
    if has_request_context():
        return public_url(endpoint, **values)
    # The mail-in server and cron commands have no request: build the path on a bare one.
    with current_app.test_request_context():
        return public_url(endpoint, **values)


def _view_link(ticket: Ticket) -> str:
    if ticket.customer_id is not None:
        return _public_url("support.view", ref=ticket.reference)
    return _public_url("support.follow", token=access_token(ticket))


def _mail(ticket: Ticket, subject, template: str, **context) -> None:
    """Mail the customer in the ticket's language; the reference leads the subject so replies thread.
    A ticket of someone without a working email (NO_MAIL_CHANNEL) is never mailed."""
    if ticket.channel == NO_MAIL_CHANNEL:
        return
    with force_locale(ticket.locale):
        queue_mail(ticket.email, str(subject), template, reply_to=_cfg("SUPPORT_ADDRESS"), ticket=ticket, **context)


# -- who sees what -------------------------------------------------------------------------------

def is_agent(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", True) and
                user.has_role(Role.SUPPORT, Role.ADMIN))


def ticket_for_customer(ref: str, user: User | None, followed: tuple[str, ...] = ()) -> Ticket:
    """The ticket if `user` owns it (or its reference is among those this browser followed by link)."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == normalise_reference(ref)))
    if ticket is None:
        raise NotFound()
    mine = user is not None and ticket.customer_id is not None and ticket.customer_id == user.id
    if not (mine or (ticket.customer_id is None and ticket.reference in followed
                     and ticket.email_confirmed_at is not None)):
        raise NotFound()
    return ticket


def ticket_for_agent(ref: str, agent: User) -> Ticket:
    if not is_agent(agent):
        raise NotFound()
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == normalise_reference(ref)))
    if ticket is None:
        raise NotFound()
    return ticket


def tickets_of(user: User):
    return db.session.scalars(select(Ticket).where(Ticket.customer_id == user.id)
                              .order_by(Ticket.created_at.desc(), Ticket.id.desc())).all()


def public_messages(ticket: Ticket) -> list[TicketMessage]:
    return [m for m in ticket.messages if m.kind != "note"]


# -- attachments ---------------------------------------------------------------------------------

class _Sniffed:
    """Reads the head of an upload to learn its type, then hands storage the whole stream."""

    def __init__(self, stream: BinaryIO, head: bytes):
        self._head, self._stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._stream.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._stream.read(n)


def sniff(head: bytes) -> tuple[str, str] | None:
    for magic, ctype, ext in MAGIC:
        if head.startswith(magic):
            return ctype, ext
    return None


def _attach_all(ticket: Ticket, message: TicketMessage, uploads: list[Upload] | None, uploader) -> None:
    """Store every upload, or none: when one is refused, the files already stored go again (the
    transaction that would have recorded them is rolled back by the caller)."""
    done: list[TicketAttachment] = []
    try:
        for up in uploads or []:
            done.append(add_attachment(ticket, message, up, uploader=uploader))
    except Exception:
        for att in done:
            get_storage().delete(att.storage_key)
        raise


def add_attachment(ticket: Ticket, message: TicketMessage | None, upload: Upload, *, uploader) -> TicketAttachment:
    head = upload.stream.read(16)
    kind = sniff(head)
    if kind is None:
        raise ValidationError(_l("Attach a PDF, JPEG or PNG file."), field="files")
    ctype, ext = kind
    stored = get_storage().put(_Sniffed(upload.stream, head), max_bytes=int(_cfg("SUPPORT_ATTACHMENT_MAX_BYTES")),
                               content_type=ctype)
    base = "".join(c for c in (upload.filename or "") if c.isalnum() or c in "-_. ").strip()[:80] or "file"
    if not base.lower().endswith(ext) and not (ext == ".jpg" and base.lower().endswith(".jpeg")):
        base += ext
    att = TicketAttachment(token=secrets.token_urlsafe(18), ticket_id=ticket.id,
                           message_id=getattr(message, "id", None), uploaded_by_id=getattr(uploader, "id", None),
                           is_identity=bool(upload.is_identity), filename=base, content_type=ctype,
                           size=stored.size, sha256=stored.sha256, storage_key=stored.key, created_at=utcnow())
    db.session.add(att)
    return att


def attachment_for(ticket: Ticket, token: str, viewer: User | None, *, as_agent: bool,
                   ip: str | None = None) -> TicketAttachment:
    """The attachment if `viewer` may have it: the ticket's customer (not identity documents; those
    they handed over), or an agent; an identity document only the ticket's assignee, audited."""
    att = db.session.scalar(select(TicketAttachment).where(TicketAttachment.token == token,
                                                           TicketAttachment.ticket_id == ticket.id))
    if att is None or att.purged_at is not None or att.storage_key is None:
        raise NotFound()
    if att.is_identity:
        if not as_agent or viewer is None or ticket.assignee_id != viewer.id:
            if as_agent and viewer is not None:
                record("support.identity_document.refused", actor=viewer, target=att, ip=ip,
                       reference=ticket.reference)
            raise Forbidden(_l("Identity documents are shown only to the agent the ticket is assigned to."))
        record("support.identity_document.viewed", actor=viewer, target=att, ip=ip, reference=ticket.reference,
               filename=att.filename)
    return att


def serve_attachment(att: TicketAttachment):
    return get_storage().serve(att.storage_key, filename=att.filename, content_type=att.content_type)


# -- replies -------------------------------------------------------------------------------------

def customer_reply(ticket: Ticket, *, author: User | None, body: str, uploads: list[Upload] | None = None,
                   via: str = "web", ip: str | None = None, email_message_id: str | None = None) -> TicketMessage:
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("This field is required."), field="body")
    ticket = lock(ticket)
    if ticket.status == "resolved":
        limit = ticket.resolved_at + timedelta(days=int(_cfg("SUPPORT_REOPEN_DAYS")))
        if utcnow() > limit:
            raise Conflict(_l("This request was resolved more than %(days)d days ago. Please open a new one.",
                              days=int(_cfg("SUPPORT_REOPEN_DAYS"))))
    if ticket.status == "closed":
        raise Conflict(_l("This request is closed. Please open a new one."))
    reopened = ticket.status == "resolved"
    transition(ticket, "customer_reply")
    msg = _message(ticket, kind="customer", author=author, body=body, via=via, email_message_id=email_message_id)
    _attach_all(ticket, msg, uploads, author)
    record("support.ticket.customer_reply", actor=author, target=ticket, ip=ip, reference=ticket.reference,
           via=via, reopened=reopened)
    return msg


NEXT_STATUS = {"open": "agent_reply", "waiting": "ask_customer", "resolved": "resolve"}


def agent_reply(ticket: Ticket, agent: User, *, body: str, next_status: str = "waiting",
                uploads: list[Upload] | None = None, ip: str | None = None) -> TicketMessage:
    """A reply to the customer (mailed in their language), then the ticket moves to `next_status`."""
    _require_agent(agent)
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("This field is required."), field="body")
    if next_status not in NEXT_STATUS:
        raise ValidationError(_l("Not a valid choice."), field="next_status")
    ticket = lock(ticket)
    if ticket.status not in ACTIVE:
        raise Conflict(_l("This ticket is %(status)s: that cannot be done now.",
                          status=STATUS_LABELS[ticket.status]))
    if ticket.assignee_id is None:
        ticket.assignee_id = agent.id
    if ticket.first_responded_at is None:
        ticket.first_responded_at = utcnow()
    transition(ticket, NEXT_STATUS[next_status])
    msg = _message(ticket, kind="agent", author=agent, body=body)
    _attach_all(ticket, msg, uploads, agent)
    record("support.ticket.agent_reply", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           status=ticket.status)
    _mail(ticket, _l("[%(ref)s] %(subject)s", ref=ticket.reference, subject=ticket.subject), "support_reply",
          body=body, agent_name=agent.full_name, link=_view_link(ticket))
    return msg


def add_note(ticket: Ticket, agent: User, *, body: str, ip: str | None = None) -> TicketMessage:
    """An internal note: agents only, never mailed, the ticket's state unchanged."""
    _require_agent(agent)
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("This field is required."), field="body")
    msg = _message(ticket, kind="note", author=agent, body=body)
    record("support.ticket.note", actor=agent, target=ticket, ip=ip, reference=ticket.reference)
    return msg


def assign(ticket: Ticket, agent: User, assignee: User | None, *, ip: str | None = None) -> Ticket:
    _require_agent(agent)
    if assignee is not None and not is_agent(assignee):
        raise ValidationError(_l("Choose a support agent."), field="assignee")
    ticket = lock(ticket)
    if ticket.status not in ACTIVE:
        raise Conflict(_l("This ticket is %(status)s: that cannot be done now.",
                          status=STATUS_LABELS[ticket.status]))
    before = ticket.assignee_id
    ticket.assignee_id = getattr(assignee, "id", None)
    if assignee is not None:
        transition(ticket, "assign")
    record("support.ticket.assigned", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           before=before, after=ticket.assignee_id)
    return ticket


def merge(ticket: Ticket, into_ref: str, agent: User, *, ip: str | None = None) -> Ticket:
    """Close `ticket` as a duplicate of another of the same customer; its messages move across."""
    _require_agent(agent)
    target = db.session.scalar(select(Ticket).where(Ticket.reference == normalise_reference(into_ref)))
    if target is None or target.id == ticket.id:
        raise ValidationError(_l("Give the reference of another ticket."), field="into")
    same = (ticket.customer_id is not None and ticket.customer_id == target.customer_id) or \
        (ticket.customer_id is None and target.customer_id is None and ticket.email == target.email)
    if not same:
        raise ValidationError(_l("Only tickets of the same customer can be merged."), field="into")
    if target.status not in ACTIVE:
        raise ValidationError(_l("The ticket to merge into must still be active."), field="into")
    transition(ticket, "merge")
    ticket.merged_into_id = target.id
    db.session.execute(update(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
                       .values(ticket_id=target.id).execution_options(synchronize_session=False))
    db.session.execute(update(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
                       .values(ticket_id=target.id).execution_options(synchronize_session=False))
    db.session.expire(ticket, ["messages"])
    db.session.expire(target, ["messages"])
    _message(target, kind="system", author=agent,
             body=f"Merged {ticket.reference} into {target.reference}.")
    record("support.ticket.merged", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           into=target.reference)
    return target


def rate(ticket: Ticket, customer: User | None, *, rating: int, comment: str = "", ip: str | None = None) -> Ticket:
    """The customer's 1-5 rating once the ticket is resolved (or closed); given once."""
    ticket = lock(ticket)
    if ticket.status not in ("resolved", "closed"):
        raise Conflict(_l("You can rate a request once it is resolved."))
    if ticket.rating is not None:
        raise Conflict(_l("You have already rated this request. Thank you."))
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError(_l("Choose from 1 to 5."), field="rating")
    ticket.rating = rating
    ticket.rating_comment = (comment or "").strip()[:1000] or None
    ticket.rated_at = utcnow()
    record("support.ticket.rated", actor=customer, target=ticket, ip=ip, reference=ticket.reference,
           rating=rating)
    return ticket


def _require_agent(agent) -> None:
    if not is_agent(agent):
        raise Forbidden()


# -- the queue -----------------------------------------------------------------------------------

QUEUE_FILTERS = ("mine", "unassigned", "all", "waiting", "resolved")


def queue(agent: User, which: str = "all", category: str | None = None, limit: int = 200) -> list[Ticket]:
    """Active tickets by SLA due (soonest first; paused ones last)."""
    q = select(Ticket).where(Ticket.email_confirmed_at.is_not(None))
    if which == "resolved":
        q = q.where(Ticket.status.in_(("resolved", "closed"))).order_by(Ticket.updated_at.desc())
    else:
        q = q.where(Ticket.status.in_(ACTIVE))
        if which == "mine":
            q = q.where(Ticket.assignee_id == agent.id)
        elif which == "unassigned":
            q = q.where(Ticket.assignee_id.is_(None))
        elif which == "waiting":
            q = q.where(Ticket.status == "waiting")
        q = q.order_by(Ticket.due_at.is_(None), Ticket.due_at, Ticket.id)
    if category in CATEGORIES:
        q = q.where(Ticket.category == category)
    return db.session.scalars(q.limit(limit)).all()


def agents() -> list[User]:
    """Support agents: the ones tickets are routed and escalated to."""
    return db.session.scalars(select(User).where(User.role == Role.SUPPORT, User.active.is_(True))
                              .order_by(User.full_name)).all()


def assignees() -> list[User]:
    """Who a ticket may be assigned to by hand: support agents and administrators (an administrator
    takes the ticket behind an administrator's action, such as a company representative change)."""
    return db.session.scalars(select(User).where(User.role.in_((Role.SUPPORT, Role.ADMIN)),
                                                 User.active.is_(True))
                              .order_by(User.role.desc(), User.full_name)).all()


def _load() -> dict[int, int]:
    """Active tickets per assigned agent."""
    return dict(db.session.execute(select(Ticket.assignee_id, func.count()).where(
        Ticket.status.in_(ACTIVE), Ticket.assignee_id.is_not(None)).group_by(Ticket.assignee_id)).all())


def handlers(category: str) -> list[User]:
    """Active support agents who handle `category`."""
    return db.session.scalars(select(User).join(AgentCategory, AgentCategory.agent_id == User.id).where(
        AgentCategory.category == category, User.role == Role.SUPPORT, User.active.is_(True))
        .order_by(User.id)).all()


def route(ticket: Ticket) -> User | None:
    """Give a ticket that entered the queue (confirmed, unassigned) to the least-loaded agent who
    handles its category; none handles it: it waits in the unassigned queue."""
    if ticket.assignee_id is not None or ticket.email_confirmed_at is None:
        return None
    candidates = handlers(ticket.category)
    if not candidates:
        return None
    load = _load()
    agent = min(candidates, key=lambda a: (load.get(a.id, 0), a.id))
    ticket.assignee_id = agent.id
    record("support.ticket.routed", target=ticket, reference=ticket.reference, agent=agent.id,
           category=ticket.category)
    return agent


def routing_table() -> dict[int, set[str]]:
    table: dict[int, set[str]] = {}
    for agent_id, category in db.session.execute(select(AgentCategory.agent_id, AgentCategory.category)):
        table.setdefault(agent_id, set()).add(category)
    return table


def set_routing(actor: User, table: dict[int, set[str]], *, ip: str | None = None) -> None:
    """Replace who handles which category (administrators)."""
    if not actor.has_role(Role.ADMIN):
        raise Forbidden()
    valid = {a.id for a in agents()}
    for agent_id, cats in table.items():
        if agent_id not in valid or not set(cats) <= set(CATEGORIES):
            raise ValidationError(_l("Not a valid choice."))
    db.session.execute(AgentCategory.__table__.delete())
    for agent_id, cats in sorted(table.items()):
        for cat in sorted(cats):
            db.session.add(AgentCategory(agent_id=agent_id, category=cat))
    db.session.flush()
    record("support.routing.changed", actor=actor, ip=ip,
           table={str(k): sorted(v) for k, v in sorted(table.items())})


def canned_replies() -> list[CannedReply]:
    return db.session.scalars(select(CannedReply).order_by(CannedReply.title)).all()


def save_canned_reply(agent: User, *, title: str, body_en: str, body_ms: str, ip: str | None = None) -> CannedReply:
    _require_agent(agent)
    title = (title or "").strip()[:100]
    if not title or not (body_en or "").strip() or not (body_ms or "").strip():
        raise ValidationError(_l("This field is required."), field="title")
    if db.session.scalar(select(CannedReply.id).where(CannedReply.title == title)) is not None:
        raise ValidationError(_l("A canned reply with this title exists."), field="title")
    reply = CannedReply(title=title, body_en=body_en.strip(), body_ms=body_ms.strip())
    db.session.add(reply)
    db.session.flush()
    record("support.canned_reply.created", actor=agent, target=reply, ip=ip, title=title)
    return reply


# -- escalation and housekeeping ----------------------------------------------------------------

def escalate(now=None) -> list[str]:
    """Flag active tickets past their SLA due (once each), hand each to the least-loaded other agent,
    and mail the team lead one list. Resolved tickets past the reopen window are closed.
    Safe to run on two hosts at once: rows are claimed with SKIP LOCKED on PostgreSQL."""
    now = now or utcnow()
    q = (select(Ticket).where(Ticket.status.in_(("new", "open")), Ticket.due_at < now,
                              Ticket.escalated_at.is_(None))
         .order_by(Ticket.id).with_for_update(skip_locked=True))
    due = db.session.scalars(q).all()
    load = _load()
    staff = agents()
    flagged = []
    for ticket in due:
        others = [a for a in handlers(ticket.category) if a.id != ticket.assignee_id] or \
            [a for a in staff if a.id != ticket.assignee_id]
        new = min(others, key=lambda a: (load.get(a.id, 0), a.id)) if others else None
        before = ticket.assignee_id
        if new is not None:
            ticket.assignee_id = new.id
            load[new.id] = load.get(new.id, 0) + 1
        ticket.escalated_at = now
        record("support.ticket.escalated", target=ticket, reference=ticket.reference, before=before,
               after=ticket.assignee_id, due=ticket.due_at.isoformat())
        flagged.append(ticket)
    if flagged:
        queue_mail(_cfg("SUPPORT_TEAM_LEAD_EMAIL"), _l("Support tickets past their SLA: %(n)d", n=len(flagged)),
                   "support_escalated", tickets=flagged)
    cutoff = now - timedelta(days=int(_cfg("SUPPORT_REOPEN_DAYS")))
    for ticket in db.session.scalars(select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at < cutoff)
                                     .with_for_update(skip_locked=True)).all():
        transition(ticket, "close")
    return [t.reference for t in flagged]


def purge(now=None) -> tuple[int, int]:
    """Destroy identity documents older than SUPPORT_IDENTITY_RETENTION_DAYS (the record stays, marked
    purged), and the messages and files of tickets closed more than SUPPORT_TICKET_RETENTION_DAYS ago
    (the ticket row stays for the statistics, its text blanked). Returns (documents, tickets)."""
    now = now or utcnow()
    storage = get_storage()
    id_cut = now - timedelta(days=int(_cfg("SUPPORT_IDENTITY_RETENTION_DAYS")))
    docs = db.session.scalars(select(TicketAttachment).where(
        TicketAttachment.is_identity.is_(True), TicketAttachment.purged_at.is_(None),
        TicketAttachment.created_at < id_cut).with_for_update(skip_locked=True)).all()
    for att in docs:
        _destroy(storage, att, now)
    t_cut = now - timedelta(days=int(_cfg("SUPPORT_TICKET_RETENTION_DAYS")))
    old = db.session.scalars(select(Ticket).where(Ticket.status == "closed", Ticket.closed_at < t_cut,
                                                  Ticket.subject != "")
                             .with_for_update(skip_locked=True)).all()
    for ticket in old:
        for att in db.session.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id,
                                                                     TicketAttachment.purged_at.is_(None))):
            _destroy(storage, att, now)
        db.session.execute(update(TicketMessage).where(TicketMessage.ticket_id == ticket.id).values(body="")
                           .execution_options(synchronize_session=False))
        ticket.subject = ""
        ticket.rating_comment = None
        ticket.name = ""
        ticket.email = None if ticket.customer_id else ticket.email
        record("support.ticket.purged", target=ticket, reference=ticket.reference)
    if docs:
        record("support.identity_documents.purged", target_type="TicketAttachment", count=len(docs))
    return len(docs), len(old)


def _destroy(storage, att: TicketAttachment, now) -> None:
    if att.storage_key:
        storage.delete(att.storage_key)
    att.storage_key = None
    att.purged_at = now


# -- actions backed by a ticket ------------------------------------------------------------------

class TicketRequired(Forbidden):
    code = "ticket-required"
    default_message = _l("This action needs an active support ticket assigned to you.")


def ticket_for_action(ticket_ref: str | None, agent: User, *, action: str, target: str | None = None,
                      customer: User | None = None, linked: tuple[str, str] | None = None) -> Ticket:
    """The seam every ticket-backed account action goes through (the companies and migration domains'
    actions, called from their front desks): the ticket must exist, be active and be assigned to
    `agent`; with `customer`, it must also be that account's own ticket; with `linked` (kind, ref), the
    ticket must be linked to that item (a legacy account has no eBiz user yet). Records the action against
    the ticket; the caller's own audit event names the ticket reference."""
    if not is_agent(agent):
        raise Forbidden()
    if not ticket_ref:
        raise TicketRequired(field="ticket")
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == normalise_reference(ticket_ref)))
    if ticket is not None:
        ticket = lock(ticket)  # one ticket-backed action at a time on a ticket
    if ticket is None or ticket.status not in ACTIVE or ticket.assignee_id != agent.id:
        raise TicketRequired(field="ticket")
    if customer is not None and ticket.customer_id != customer.id:
        raise ValidationError(_l("This ticket belongs to another customer: use this account's own ticket."),
                              field="ticket")
    if linked is not None and (ticket.linked_kind, ticket.linked_ref) != (linked[0], (linked[1] or "")[:40]):
        raise ValidationError(_l("This ticket is about something else: use the ticket linked to this account."),
                              field="ticket")
    db.session.add(TicketAction(ticket_id=ticket.id, actor_id=agent.id, action=action[:40],
                                target=(target or "")[:254] or None, created_at=utcnow()))
    return ticket


def ticket_reference_for_action(ticket_ref: str | None, agent: User, action: str = "external",
                                target: str | None = None, customer: User | None = None) -> str:
    """For other domains: validate the ticket behind an action and return its canonical reference."""
    return ticket_for_action(ticket_ref, agent, action=action, target=target, customer=customer).reference


def action_done(ticket: Ticket, agent: User, *, body: str) -> TicketMessage:
    """Say on the ticket what another domain's ticket-backed action did (a system message the
    customer sees on the ticket; it is not mailed: the acting domain tells the customer itself)."""
    _require_agent(agent)
    return _message(ticket, kind="system", author=agent, body=body)


def actions_of(ticket: Ticket) -> list[TicketAction]:
    return db.session.scalars(select(TicketAction).where(TicketAction.ticket_id == ticket.id)
                              .order_by(TicketAction.id)).all()


def adjust_download(ticket_ref: str | None, agent: User, *, entitlement_ref: str, add_downloads: int = 0,
                    extend_days: int = 0, reason: str, ip: str | None = None):
    """Restore or extend a download allowance on the strength of a ticket (delivery's own action)."""
    ticket = ticket_for_action(ticket_ref, agent, action="download_allowance", target=entitlement_ref)
    try:
        ent = entitlement_by_ref((entitlement_ref or "").strip())
    except EbizError:
        raise ValidationError(_l("We could not find this download."), field="entitlement_ref") from None
    if ticket.customer_id is None or ent.user_id != ticket.customer_id:
        raise ValidationError(_l("This download is not the ticket customer's."), field="entitlement_ref")
    adjust_allowance(ent.id, actor=agent, add_downloads=add_downloads, extend_days=extend_days,
                     reason=f"{ticket.reference}: {reason or ''}".strip(), ip=ip)
    _message(ticket, kind="system", author=agent,
             body=f"Download allowance {ent.ref}: +{add_downloads} downloads, +{extend_days} days.")
    record("support.action.download_allowance", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           entitlement=ent.ref, add_downloads=add_downloads, extend_days=extend_days)
    return ent


def requery_payment(ticket_ref: str | None, agent: User, *, payment_ref: str, ip: str | None = None) -> str:
    """Ask the gateway again about a payment the customer sees as unpaid; the answer is applied."""
    ticket = ticket_for_action(ticket_ref, agent, action="payment_requery", target=payment_ref)
    intent = _ticket_payment(ticket, agent, payment_ref)
    outcome = payments.refresh(intent, source="requery")
    _message(ticket, kind="system", author=agent,
             body=f"Payment {intent.reference} requeried: {outcome}; status {intent.status}.")
    record("support.action.payment_requery", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           payment=intent.reference, outcome=outcome, status=intent.status)
    return outcome


def _ticket_payment(ticket: Ticket, agent: User, payment_ref: str):
    try:
        intent = payments.get_for_user(agent, (payment_ref or "").strip().upper(), as_staff=True)
    except NotFound:
        raise ValidationError(_l("We could not find this payment."), field="payment_ref") from None
    if ticket.customer_id is None or intent.user_id != ticket.customer_id:
        raise ValidationError(_l("This payment is not the ticket customer's."), field="payment_ref")
    return intent


def customers_tickets_for_agent(user_id: int) -> list[Ticket]:
    return db.session.scalars(select(Ticket).where(Ticket.customer_id == user_id)
                              .order_by(Ticket.id.desc()).limit(50)).all()


def find_tickets(q: str, limit: int = 50) -> list[Ticket]:
    q = (q or "").strip()[:100]
    if not q:
        return []
    like = f"%{like_escape(q.lower())}%"
    return db.session.scalars(select(Ticket).where(or_(
        Ticket.reference == normalise_reference(q), func.lower(Ticket.email).like(like, escape=LIKE_ESCAPE),
        func.lower(Ticket.subject).like(like, escape=LIKE_ESCAPE))).order_by(Ticket.id.desc()).limit(limit)).all()


IDENTITY_DOCUMENTS_NEEDED = 2  # a copy of the MyKad and a photo of the customer holding it


def identity_documents(ticket: Ticket) -> list[TicketAttachment]:
    return db.session.scalars(select(TicketAttachment).where(
        TicketAttachment.ticket_id == ticket.id, TicketAttachment.is_identity.is_(True),
        TicketAttachment.purged_at.is_(None)).order_by(TicketAttachment.id)).all()


def request_email_change(ticket_ref: str | None, agent: User, *, identity_number: str, new_email: str,
                         ip: str | None = None) -> str:
    """The old address is lost: on the ticket's identity documents (both of them, looked at by this
    agent), send a link to the new address; the change happens when it is opened."""
    ticket = ticket_for_action(ticket_ref, agent, action="email_change", target=new_email)
    docs = identity_documents(ticket)
    if len(docs) < IDENTITY_DOCUMENTS_NEEDED:
        raise ValidationError(_l("The ticket needs the customer's identity documents first: a copy of the "
                                 "MyKad and a photo of them holding it."), field="identity_number")
    looked = set(db.session.scalars(select(AuditEvent.target_id).where(
        AuditEvent.action == "support.identity_document.viewed", AuditEvent.actor_id == agent.id,
        AuditEvent.target_type == "TicketAttachment")))
    if not all(str(d.id) in looked for d in docs):
        raise ValidationError(_l("Open and check each identity document before acting on it."),
                              field="identity_number")
    user = find_by_login((identity_number or "").strip())
    if user is None or user.is_staff or not (identity_number or "").strip() or "@" in identity_number:
        raise ValidationError(_l("No customer has this identity number."), field="identity_number")
    email_n = identity.normalise_email(new_email or "", field="new_email")
    if db.session.scalar(select(User.id).where(User.email == email_n, User.id != user.id)) is not None:
        raise ValidationError(_l("An account with this email already exists."), field="new_email")
    token = make_token("support-email-change", {"u": user.id, "e": email_n, "t": ticket.reference,
                                                "fp": fingerprint(user.id, user.email)})
    _message(ticket, kind="system", author=agent,
             body=f"Email change for account {user.id} to {email_n} requested; confirmation link sent.")
    record("support.action.email_change_requested", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           user_id=user.id, new_email=email_n, documents=[d.id for d in docs])
    with force_locale(ticket.locale):
        queue_mail(email_n, str(_l("[%(ref)s] Confirm your new eBiz email address", ref=ticket.reference)),
                   "support_email_change", reply_to=_cfg("SUPPORT_ADDRESS"), ticket=ticket, user=user,
                   new_email=email_n, link=_public_url("support.confirm_email_change", token=token))
    return email_n


def confirm_email_change(token: str, *, ip: str | None = None) -> User:
    try:
        data = read_token("support-email-change", token)
    except TokenError as exc:
        if exc.reason == "expired":
            raise ValidationError(_l("This link has expired. Ask for a new one.")) from None
        raise ValidationError(_l("This link is not valid.")) from None
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == data.get("t")))
    if ticket is not None:
        ticket = lock(ticket)  # a link opened twice at once: the second waits, then sees the new address
    user = db.session.scalars(select(User).where(User.id == data.get("u")).execution_options(
        populate_existing=True)).first() if isinstance(data.get("u"), int) else None
    if user is None or ticket is None or data.get("fp") != fingerprint(user.id, user.email):
        raise ValidationError(_l("This link was already used or is no longer valid."))
    if ticket.status not in ACTIVE:
        raise ValidationError(_l("This link was already used or is no longer valid."))
    agent_id = ticket.assignee_id
    user = change_email_on_evidence(user.id, data["e"], actor_id=agent_id, evidence=ticket.reference, ip=ip)
    db.session.execute(update(TicketAction).where(TicketAction.ticket_id == ticket.id,
                                                  TicketAction.action == "email_change",
                                                  TicketAction.completed_at.is_(None))
                       .values(completed_at=utcnow()).execution_options(synchronize_session=False))
    _message(ticket, kind="system", author=None, body=f"The new address {user.email} was confirmed and is now "
                                                     f"the account's email.")
    return user


def refund_payment(ticket_ref: str | None, agent: User, *, payment_ref: str, amount_sen: int, note: str,
                   ip: str | None = None):
    """Put money the customer paid (and should have back) on the staff refund queue, from the ticket.
    One refund per ticket and payment (its idempotency key); never more than was paid in all."""
    ticket = ticket_for_action(ticket_ref, agent, action="payment_refund", target=payment_ref)
    intent = _ticket_payment(ticket, agent, payment_ref)
    if intent.status != "succeeded":
        raise ValidationError(_l("Only a payment the bank confirmed can be refunded. Requery it first."),
                              field="payment_ref")
    if intent.kind != "order":
        # A top-up's money is in the customer's wallet: returning it too would pay it twice.
        raise ValidationError(_l("Only an order's payment is refunded from a ticket; a top-up's money is in "
                                 "the customer's wallet."), field="payment_ref")
    if not (note or "").strip():
        raise ValidationError(_l("This field is required."), field="note")
    refund = payments.queue_refund(intent, amount_sen, RefundReason.SUPPORT_TICKET,
                                   f"{ticket.reference}: {note.strip()}"[:300],
                                   key=f"support:{ticket.reference}:{intent.reference}")
    _message(ticket, kind="system", author=agent,
             body=f"Refund {refund.reference} of {amount_sen} sen queued for payment {intent.reference}.")
    record("support.action.payment_refund", actor=agent, target=ticket, ip=ip, reference=ticket.reference,
           payment=intent.reference, refund=refund.reference, amount_sen=amount_sen)
    return refund


# -- the monthly report ------------------------------------------------------------------------------

@dataclass
class CategoryFigures:
    category: str
    opened: int = 0
    answered: int = 0
    first_met: int = 0
    resolved: int = 0
    resolution_met: int = 0
    rated: int = 0
    rating_sum: int = 0

    @staticmethod
    def pct(part: int, whole: int) -> int | None:
        return round(100 * part / whole) if whole else None

    @property
    def first_pct(self):
        return self.pct(self.first_met, self.answered)

    @property
    def resolution_pct(self):
        return self.pct(self.resolution_met, self.resolved)

    @property
    def rating(self) -> float | None:
        return round(self.rating_sum / self.rated, 1) if self.rated else None


def month_bounds(year: int, month: int):
    """The month in Malaysian time, as naive UTC bounds [start, end)."""
    start = from_local(datetime(year, month, 1))
    end = from_local(datetime(year + (month == 12), month % 12 + 1, 1))
    return start, end


def monthly_report(year: int, month: int) -> list[CategoryFigures]:
    """Per category, for tickets opened in the month (merged duplicates left out): how many were
    answered within the first-response SLA, resolved within the resolution SLA, and the ratings."""
    start, end = month_bounds(year, month)
    rows = db.session.execute(select(
        Ticket.category, Ticket.first_responded_at, Ticket.first_response_due, Ticket.resolved_at,
        Ticket.resolution_due, Ticket.rating, Ticket.closed_at).where(
        Ticket.created_at >= start, Ticket.created_at < end, Ticket.merged_into_id.is_(None),
        Ticket.email_confirmed_at.is_not(None))).all()
    figures = {c: CategoryFigures(c) for c in CATEGORIES}
    for cat, responded, first_due, resolved, res_due, rating, closed in rows:
        f = figures[cat]
        f.opened += 1
        if responded is not None:
            f.answered += 1
            f.first_met += responded <= first_due
        done = resolved or closed
        if done is not None:
            f.resolved += 1
            f.resolution_met += done <= res_due
        if rating is not None:
            f.rated += 1
            f.rating_sum += rating
    return list(figures.values())
