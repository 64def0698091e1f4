"""The outbox: every outgoing email is a row first, written in the transaction of the action.

A message is `pending` until sent. Who sends it depends on `MAIL_DELIVERY` (see service.py):
right after the commit in the request (`inline`), or by `flask notifications worker`
(`worker`). A failed send stays `pending` with its error, attempt count and the time of its
next attempt (`next_attempt_at`, growing backoff); after `MAX_ATTEMPTS` it is `failed` for
staff to look at. A message is sent at least once: a worker that dies mid-batch leaves its
claimed rows pending (the claim is a row lock, not a status), so they may go out twice but
are never lost.
"""

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db

MAX_ATTEMPTS = 8


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(80))
    reply_to: Mapped[str | None] = mapped_column(String(254))  # where answers go (e.g. the support desk)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    next_attempt_at: Mapped[object | None] = mapped_column(db.DateTime)  # None: as soon as possible
    sent_at: Mapped[object | None] = mapped_column(db.DateTime)
