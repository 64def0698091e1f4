"""Support tickets, their messages and attachments.

Invariants:
- A ticket's `reference` (SR-XXXX-XXXX, Crockford alphabet) is its only public name, unique;
  URLs never carry its id. Every lookup checks the customer (or the ticket's confirmed email).
- `status` moves only along `service.TRANSITIONS`; the table is the one place that says so.
- `due_at` is the next SLA deadline (first response until an agent replies, then resolution),
  NULL while the clock is paused (waiting for the customer) or stopped (resolved, closed).
- Internal notes (`kind == "note"`) are never shown to the customer or mailed.
- An attachment's file lives in delivery's storage under a random key. Identity documents
  (`is_identity`) are served only to the agent assigned to the ticket, each view audited;
  `purged_at` set means the file is gone and the record stays.
"""

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

STATUSES = ("new", "open", "waiting", "resolved", "closed")
CATEGORIES = ("account", "payment", "products", "downloads", "applications", "counters", "complaints")
MESSAGE_KINDS = ("customer", "agent", "note", "system")


def _in(col: str, values) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Ticket(db.Model):
    __tablename__ = "support_ticket"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating"),
        CheckConstraint("customer_id IS NOT NULL OR email IS NOT NULL", name="who"),
        Index("ix_support_ticket_queue", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)  # where replies go (anonymous: confirmed)
    email_confirmed_at: Mapped[object | None] = mapped_column(db.DateTime)
    name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(5), default="ms")
    category: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="new")
    channel: Mapped[str] = mapped_column(String(10), default="web")
    linked_kind: Mapped[str | None] = mapped_column(String(20))
    linked_ref: Mapped[str | None] = mapped_column(String(40))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("support_ticket.id"))

    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    first_response_due: Mapped[object] = mapped_column(db.DateTime)
    first_responded_at: Mapped[object | None] = mapped_column(db.DateTime)
    resolution_due: Mapped[object] = mapped_column(db.DateTime)
    due_at: Mapped[object | None] = mapped_column(db.DateTime)
    waiting_since: Mapped[object | None] = mapped_column(db.DateTime)
    resolved_at: Mapped[object | None] = mapped_column(db.DateTime)
    closed_at: Mapped[object | None] = mapped_column(db.DateTime)
    escalated_at: Mapped[object | None] = mapped_column(db.DateTime)

    rating: Mapped[int | None] = mapped_column()
    rating_comment: Mapped[str | None] = mapped_column(String(1000))
    rated_at: Mapped[object | None] = mapped_column(db.DateTime)

    messages = relationship("TicketMessage", back_populates="ticket", order_by="TicketMessage.id")


class TicketMessage(db.Model):
    __tablename__ = "support_message"
    __table_args__ = (CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),
                      UniqueConstraint("email_message_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_ticket.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(10))
    via: Mapped[str] = mapped_column(String(10), default="web")
    body: Mapped[str] = mapped_column(Text)
    email_message_id: Mapped[str | None] = mapped_column(String(250))  # mail in: a redelivery is one message
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    ticket = relationship("Ticket", back_populates="messages")
    attachments = relationship("TicketAttachment", order_by="TicketAttachment.id")


class TicketAttachment(db.Model):
    __tablename__ = "support_attachment"
    __table_args__ = (UniqueConstraint("token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))  # the public name in URLs
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_ticket.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("support_message.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_identity: Mapped[bool] = mapped_column(default=False)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    purged_at: Mapped[object | None] = mapped_column(db.DateTime)


class CannedReply(db.Model):
    __tablename__ = "support_canned_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    body_en: Mapped[str] = mapped_column(Text)
    body_ms: Mapped[str] = mapped_column(Text)


class TicketAction(db.Model):
    """An account action an agent took on the strength of a ticket (the ticket is its authority)."""

    __tablename__ = "support_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_ticket.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    completed_at: Mapped[object | None] = mapped_column(db.DateTime)


class HelpArticle(db.Model):
    """A help-centre article in both languages (Markdown, rendered sanitised); `slug` is its URL name."""

    __tablename__ = "help_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    topic: Mapped[str] = mapped_column(String(20))  # a ticket category: the article answers that kind of question
    position: Mapped[int] = mapped_column(default=0)
    title_ms: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    body_ms: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(default=True)
    helpful_yes: Mapped[int] = mapped_column(default=0)
    helpful_no: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class HelpVote(db.Model):
    """One "did this help?" answer per article and voter (an account, or a browser's random id)."""

    __tablename__ = "help_vote"
    __table_args__ = (UniqueConstraint("article_id", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("help_article.id"))
    voter: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    helpful: Mapped[bool] = mapped_column()
    from_ticket_form: Mapped[bool] = mapped_column(default=False)  # suggested while opening a ticket
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)


class AgentCategory(db.Model):
    """An agent handles a category: new tickets of it are routed to the least-loaded such agent."""

    __tablename__ = "support_agent_category"
    __table_args__ = (UniqueConstraint("agent_id", "category"),
                      CheckConstraint(_in("category", CATEGORIES), name="category"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
