"""Orders tables: cart items, orders, order lines, invoices and credit notes.

Invariants:
- The cart is rows per user (never process memory); one row per product
  and training session, quantity >= 1.
- An order has a public, non-guessable `reference`; customers never see its id.
  Its status moves only along `TRANSITIONS` (orders.service.transition).
- Lines snapshot name, SKU, type and unit price at checkout; later catalogue
  changes never alter an order. `line_total_sen = unit_price_sen * quantity`
  and the order total is their sum less their remits (`remit_sen`, at most the
  line's total: CHECKs and the service).
- An order is created only with the stock/seats of its lines reserved; they
  are released exactly once, when it is cancelled or expires unpaid.
- `checkout_key` (a form nonce) is unique per user: submitting checkout twice
  yields one order.
- An invoice is issued once per order, before payment, with a gapless number,
  and never changes (its lines are a frozen JSON copy). A correction is a
  credit note with its own gapless number; credit notes never exceed the
  invoice total (service).
"""

from enum import StrEnum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class OrderStatus(StrEnum):
    PENDING = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class LineStatus(StrEnum):
    PENDING = "pending"  # not paid yet
    PAID = "paid"  # paid; digital lines are delivered from this point
    READY = "ready"  # printed: ready for collection at the counter
    COLLECTED = "collected"  # printed: collected
    DELIVERED = "delivered"  # on-demand service: files attached
    CANCELLED = "cancelled"


# What customers and staff read for each status (pages show these, never the codes).
ORDER_STATUS_LABELS = {
    OrderStatus.PENDING: _l("Awaiting payment"),
    OrderStatus.PAID: _l("Payment successful"),
    OrderStatus.FULFILLED: _l("Fulfilled"),
    OrderStatus.CANCELLED: _l("Cancelled"),
    OrderStatus.EXPIRED: _l("Expired"),
    OrderStatus.REFUNDED: _l("Refunded"),
}
LINE_STATUS_LABELS = {
    LineStatus.PENDING: _l("Awaiting payment"),
    LineStatus.PAID: _l("Payment successful"),
    LineStatus.READY: _l("Ready for collection"),
    LineStatus.COLLECTED: _l("Collected"),
    LineStatus.DELIVERED: _l("Delivered"),
    LineStatus.CANCELLED: _l("Cancelled"),
}


def _in(col: str, enum) -> str:
    return f"{col} IN ({', '.join(repr(str(v)) for v in enum)})"


REQUEST_MAX = 2000  # characters of an on-demand service request (area, layers, format, project)


class CartItem(db.Model):
    __tablename__ = "cart_item"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", "session_id", name="uq_cart_item_user_product_session"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("training_session.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    request_note: Mapped[str | None] = mapped_column(db.Text)  # what an on-demand service is to deliver
    added_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    product = relationship("Product", lazy="joined")
    session = relationship("TrainingSession", lazy="joined")


class Order(db.Model):
    __tablename__ = "customer_order"
    __table_args__ = (
        CheckConstraint(_in("status", OrderStatus), name="status"),
        CheckConstraint("total_sen >= 0", name="total_nonnegative"),
        UniqueConstraint("user_id", "checkout_key", name="uq_customer_order_user_checkout_key"),
        Index("ix_customer_order_user_created", "user_id", "created_at"),
        Index("ix_customer_order_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING)
    total_sen: Mapped[int] = mapped_column()
    checkout_key: Mapped[str] = mapped_column(String(64))
    collect_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(db.DateTime)
    paid_at: Mapped[object | None] = mapped_column(db.DateTime)
    closed_at: Mapped[object | None] = mapped_column(db.DateTime)  # cancelled, expired or refunded
    # How it was paid: the payment intent's public reference and method.
    payment_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    payment_method: Mapped[str | None] = mapped_column(String(10))
    # Refund on cancellation: "wallet" (done) or "staff" (queued for a staff refund).
    refund_route: Mapped[str | None] = mapped_column(String(10))
    refund_sen: Mapped[int | None] = mapped_column()
    # Stock and seats are held from checkout until paid, cancelled or expired.
    reserved: Mapped[bool] = mapped_column(default=True)
    # A free order (zero total, e.g. fully remitted) completes without a payment: its RM 0.00 receipt number.
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)

    user = relationship("User")
    collect_counter = relationship("Counter")
    lines = relationship("OrderLine", back_populates="order", order_by="OrderLine.id",
                         cascade="all, delete-orphan")
    invoice = relationship("Invoice", back_populates="order", uselist=False)

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.PENDING


class OrderLine(db.Model):
    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price_sen >= 0", name="price_nonnegative"),
        CheckConstraint("line_total_sen = unit_price_sen * quantity", name="line_total"),
        CheckConstraint(_in("status", LineStatus), name="status"),
        CheckConstraint("remit_sen >= 0 AND remit_sen <= line_total_sen", name="remit_within_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("product_version.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("training_session.id"), index=True)
    acceptance_id: Mapped[int | None] = mapped_column(ForeignKey("licence_acceptance.id"))
    # Snapshots taken at checkout.
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))  # English
    name_ms: Mapped[str | None] = mapped_column(String(200))
    product_type: Mapped[str] = mapped_column(String(10))
    service_kind: Mapped[str | None] = mapped_column(String(12))
    version_label: Mapped[str | None] = mapped_column(String(40))
    session_label: Mapped[str | None] = mapped_column(String(200))
    licence_key: Mapped[str | None] = mapped_column(String(60))
    unit_price_sen: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column(default=1)
    line_total_sen: Mapped[int] = mapped_column()
    request_note: Mapped[str | None] = mapped_column(db.Text)  # the customer's request (on-demand services)
    # The approved application this line was bought under (restricted data, remit), and its remit:
    # the line is paid `line_total_sen - remit_sen`; the invoice shows the remit as its own line.
    application_ref: Mapped[str | None] = mapped_column(String(20))
    remit_sen: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(12), default=LineStatus.PENDING)
    status_changed_at: Mapped[object | None] = mapped_column(db.DateTime)

    order = relationship(Order, back_populates="lines")
    session = relationship("TrainingSession")


class Invoice(db.Model):
    __tablename__ = "invoice"
    __table_args__ = (CheckConstraint("total_sen >= 0", name="total_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id"), unique=True)
    issued_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    billed_name: Mapped[str] = mapped_column(String(200))
    billed_email: Mapped[str] = mapped_column(String(254))
    billed_id_no: Mapped[str | None] = mapped_column(String(40))  # company number when a company
    lines: Mapped[list] = mapped_column(JSON)
    total_sen: Mapped[int] = mapped_column()
    due_at: Mapped[object] = mapped_column(db.DateTime)

    order = relationship(Order, back_populates="invoice")
    credit_notes = relationship("CreditNote", back_populates="invoice", order_by="CreditNote.id")


class CreditNote(db.Model):
    __tablename__ = "credit_note"
    __table_args__ = (CheckConstraint("amount_sen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_sen: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    invoice = relationship(Invoice, back_populates="credit_notes")

    @property
    def shown_reason(self) -> str:
        """The reason as written, or (none given) who closed the order, in the reader's language."""
        if self.reason:
            return self.reason
        if self.issued_by_id is None:
            return _("The order expired unpaid.")
        if self.issued_by_id == self.invoice.order.user_id:
            return _("Cancelled by the customer.")
        return _("Cancelled by eBiz staff.")


class IssuedDocumentError(RuntimeError):
    """An issued invoice or credit note was about to change or disappear."""


@event.listens_for(Invoice, "before_update")
@event.listens_for(Invoice, "before_delete")
@event.listens_for(CreditNote, "before_update")
@event.listens_for(CreditNote, "before_delete")
def _issued_documents_never_change(_mapper, _conn, target):
    raise IssuedDocumentError(f"{type(target).__name__} {target.number} is issued and never changes; "
                              "correct it with a credit note")
