"""Applications for restricted data and for fee remission (remit), and their review.

Invariants:
- `state` changes only through `service.transition`, which reads the one table of allowed
  moves (`TRANSITIONS`); a move not in the table is refused out loud (Conflict), never
  applied by accident. Every move writes an `ApplicationEvent` and an audit event.
- `reference` (APL-2026-000123) comes from the gapless sequence and is taken when the
  application is first submitted; a draft has none yet and is found by `token`.
- The SLA clock counts working days: `clock_days_used` holds the working days spent before
  the clock was last paused; while the clock runs, `clock_resumed_on` is the local date it
  started again and `due_on` the date it runs out. Waiting for the applicant (information
  requested) stops it: `clock_resumed_on` and `due_on` are NULL.
- A decision (approve/reject) is taken once: the row is locked and its state re-read
  before the move, so of two staff deciding at once exactly one decision stands.
- With two-step review, `recommended_by` is set and the decider is someone else.
- Documents live in the storage backend under random keys; a purged document keeps its
  row (name, size, hash) with `storage_key` NULL.
"""

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    USED = "used"


# (from, action) -> to. The whole state machine: nothing else moves `state`.
TRANSITIONS: dict[tuple[str, str], str] = {
    (State.DRAFT, "submit"): State.SUBMITTED,
    (State.DRAFT, "withdraw"): State.WITHDRAWN,
    (State.SUBMITTED, "withdraw"): State.WITHDRAWN,
    (State.RESUBMITTED, "withdraw"): State.WITHDRAWN,
    (State.INFO_REQUESTED, "withdraw"): State.WITHDRAWN,
    (State.SUBMITTED, "request_info"): State.INFO_REQUESTED,
    (State.RESUBMITTED, "request_info"): State.INFO_REQUESTED,
    (State.INFO_REQUESTED, "resubmit"): State.RESUBMITTED,
    (State.SUBMITTED, "approve"): State.APPROVED,
    (State.RESUBMITTED, "approve"): State.APPROVED,
    (State.SUBMITTED, "reject"): State.REJECTED,
    (State.RESUBMITTED, "reject"): State.REJECTED,
    (State.APPROVED, "expire"): State.EXPIRED,
    (State.APPROVED, "use_up"): State.USED,
    (State.USED, "reopen"): State.APPROVED,  # an unpaid order gave its copies back
    (State.USED, "expire"): State.EXPIRED,
}

UNDER_REVIEW = (State.SUBMITTED, State.RESUBMITTED)
CLOSED = (State.REJECTED, State.WITHDRAWN, State.EXPIRED, State.USED)


class RemitKind(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"


class Application(db.Model):
    __tablename__ = "application"
    __table_args__ = (
        CheckConstraint("state IN ('draft', 'submitted', 'info_requested', 'resubmitted', 'approved', "
                        "'rejected', 'withdrawn', 'expired', 'used')", name="state"),
        CheckConstraint("wants_data OR wants_remit", name="wants_something"),
        CheckConstraint("remit_kind IS NULL OR remit_kind IN ('percent', 'fixed')", name="remit_kind"),
        CheckConstraint("remit_value IS NULL OR remit_value >= 0", name="remit_value_nonnegative"),
        CheckConstraint("remit_kind <> 'percent' OR remit_value <= 100", name="remit_percent_max"),
        CheckConstraint("clock_days_used >= 0", name="clock_days_nonnegative"),
        Index("ix_application_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # URL handle; never sequential
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=State.DRAFT)
    wants_data: Mapped[bool] = mapped_column(default=True)
    wants_remit: Mapped[bool] = mapped_column(default=False)

    purpose: Mapped[str] = mapped_column(Text, default="")
    agency: Mapped[str] = mapped_column(String(200), default="")
    applicant_category: Mapped[str | None] = mapped_column(String(20))  # who is applying (remit eligibility)
    intended_use: Mapped[str] = mapped_column(Text, default="")
    area_state: Mapped[str] = mapped_column(String(60), default="")
    area_district: Mapped[str] = mapped_column(String(80), default="")
    bbox: Mapped[str | None] = mapped_column(String(120))
    period_from: Mapped[object | None] = mapped_column(db.Date)
    period_to: Mapped[object | None] = mapped_column(db.Date)
    declaration_accepted_at: Mapped[object | None] = mapped_column(db.DateTime)

    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    submitted_at: Mapped[object | None] = mapped_column(db.DateTime)
    # The SLA clock (see the module docstring).
    clock_days_used: Mapped[int] = mapped_column(default=0)
    clock_resumed_on: Mapped[object | None] = mapped_column(db.Date)
    due_on: Mapped[object | None] = mapped_column(db.Date)
    info_request: Mapped[str | None] = mapped_column(Text)
    reminded_on: Mapped[object | None] = mapped_column(db.Date)  # the day reviewers were last reminded of it

    recommended_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recommended_at: Mapped[object | None] = mapped_column(db.DateTime)
    recommendation: Mapped[str | None] = mapped_column(String(10))  # approve / reject
    recommendation_notes: Mapped[str | None] = mapped_column(Text)

    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[object | None] = mapped_column(db.DateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The scope of an approval.
    valid_until: Mapped[object | None] = mapped_column(db.DateTime)
    conditions: Mapped[str | None] = mapped_column(Text)
    remit_kind: Mapped[str | None] = mapped_column(String(10))
    remit_value: Mapped[int | None] = mapped_column()  # percent (0-100) or sen
    documents_purged_at: Mapped[object | None] = mapped_column(db.DateTime)

    user = relationship("User", foreign_keys=[user_id])
    items = relationship("ApplicationItem", back_populates="application", order_by="ApplicationItem.id",
                         cascade="all, delete-orphan")
    documents = relationship("ApplicationDocument", back_populates="application",
                             order_by="ApplicationDocument.id")
    events = relationship("ApplicationEvent", order_by="ApplicationEvent.id")

    @property
    def label(self) -> str:
        return self.reference or self.token[:8]


class ApplicationItem(db.Model):
    """A product (and optionally one version) applied for; the approval says how many copies."""

    __tablename__ = "application_item"
    __table_args__ = (
        UniqueConstraint("application_id", "product_id", name="uq_application_item_product"),
        CheckConstraint("copies >= 1", name="copies_positive"),
        CheckConstraint("copies_used >= 0 AND copies_used <= copies", name="copies_used_within"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("product_version.id"))
    copies: Mapped[int] = mapped_column(default=1)
    copies_used: Mapped[int] = mapped_column(default=0)
    approved: Mapped[bool] = mapped_column(default=False)

    application = relationship(Application, back_populates="items")
    product = relationship("Product")
    version = relationship("ProductVersion")


class ApplicationDocument(db.Model):
    __tablename__ = "application_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(200))  # NULL once purged
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    application = relationship(Application, back_populates="documents")


class ApplicationEvent(db.Model):
    """The application's history as the applicant and staff see it (append-only)."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class Reviewer(db.Model):
    """The "reviewer" staff permission: an administrator grants it to a staff member."""

    __tablename__ = "application_reviewer"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
