"""Legacy accounts from the old system, their past orders, and the migration of each.

Invariants:
- A legacy row is keyed by the old system's id (`legacy_id`, unique); a re-run of the import
  finds it and changes nothing. `row_hash` is the hash of the row as imported: a later export
  whose row hashes differently is reported as changed, never written over.
- A legacy customer is `waiting` until its owner follows a migration link (or an identical
  identity is merged), then `migrated` with `user_id` set, once: the change is a conditional
  UPDATE on the locked row, so two tabs submitting one link make one account.
- Its opening balance (`balance_sen`, >= 0) is on the ledger from the import on
  (legacy_opening -> legacy_unclaimed); migrating moves it, once per legacy row (idempotency
  key `legacy-claim:<id>`), from legacy_unclaimed to the customer's wallet.
- A migration link is valid only while `link_nonce` is the one it was made with: a new request
  replaces the nonce (the older link dies), migrating clears it (the link is spent), an
  administrator's email correction replaces it.
- No password of the old system is ever imported.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class LegacyStatus:
    WAITING = "waiting"
    MIGRATED = "migrated"
    ALL = (WAITING, MIGRATED)


class EmailStatus:
    UNKNOWN = "unknown"  # as exported: nobody has said yet
    INVALID = "invalid"  # the customer said it is no longer in use
    CORRECTED = "corrected"  # an administrator changed it after an identity check
    ALL = (UNKNOWN, INVALID, CORRECTED)


LEGACY_ORDER_STATUS_LABELS = {
    "paid": _l("Paid"),
    "cancelled": _l("Cancelled"),
    "refunded": _l("Refunded"),
}


class LegacyCustomer(db.Model):
    __tablename__ = "legacy_customer"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'migrated')", name="status"),
        CheckConstraint("email_status IN ('unknown', 'invalid', 'corrected')", name="email_status"),
        CheckConstraint("balance_sen >= 0", name="balance_not_negative"),
        CheckConstraint("status = 'waiting' OR user_id IS NOT NULL", name="migrated_has_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legacy_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # an accounts Kind
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    mykad: Mapped[str | None] = mapped_column(String(12), index=True)
    passport_no: Mapped[str | None] = mapped_column(String(20), index=True)
    nationality: Mapped[str | None] = mapped_column(String(2))
    company_reg_no: Mapped[str | None] = mapped_column(String(20), index=True)
    company_name: Mapped[str | None] = mapped_column(String(200))
    rep_mykad: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(500))
    counter_verified: Mapped[bool] = mapped_column(default=False)
    legacy_created_on: Mapped[object | None] = mapped_column(db.Date)
    row_hash: Mapped[str] = mapped_column(String(64))

    balance_sen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    balance_imported: Mapped[bool] = mapped_column(default=False)
    balance_hash: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(10), default=LegacyStatus.WAITING, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    migrated_at: Mapped[object | None] = mapped_column(db.DateTime)
    email_status: Mapped[str] = mapped_column(String(10), default=EmailStatus.UNKNOWN)

    link_nonce: Mapped[str | None] = mapped_column(String(32))
    link_sent_at: Mapped[object | None] = mapped_column(db.DateTime)
    links_sent: Mapped[int] = mapped_column(default=0)
    link_message_id: Mapped[int | None] = mapped_column()  # the outbox row of the latest link

    imported_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)


class LegacyOrder(db.Model):
    """A past order of the old system: read-only history, shown in "My orders" once migrated."""

    __tablename__ = "legacy_order"
    __table_args__ = (
        CheckConstraint("total_sen >= 0", name="total_not_negative"),
        CheckConstraint("status IN ('paid', 'cancelled', 'refunded')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legacy_ref: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("legacy_customer.id"), index=True)
    ordered_on: Mapped[object] = mapped_column(db.Date)
    items: Mapped[str] = mapped_column(Text)  # "SKU*qty|SKU*qty", as exported
    total_sen: Mapped[int] = mapped_column(db.BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    row_hash: Mapped[str] = mapped_column(String(64))


class MigrationSupportRequest(db.Model):
    """A customer said their old email is no longer in use: an administrator must help.

    `ticket_ref` is the reference of the support ticket (issue 16) that takes this request over,
    opened with the request (the customer quotes it; the dashboard counts and lists the open ones)."""

    __tablename__ = "migration_support_request"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("legacy_customer.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    ticket_ref: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    closed_at: Mapped[object | None] = mapped_column(db.DateTime)
