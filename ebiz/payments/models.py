"""Payments tables: payment intents, their event log, and the staff refund queue.

Invariants:
- An intent's amount is a positive number of sen in MYR; `reference` (EBZ-PAY-...) is
  public and unique; (user_id, idempotency_key) is unique, so a retried request finds
  the intent it already made; `gateway_txn_id` and `receipt_no` are unique when set.
- Status moves only along `service.TRANSITIONS`: pending -> succeeded | failed | expired,
  and failed/expired -> succeeded when the money turns out to have arrived (the intent is
  then flagged `needs_review` for staff). A succeeded intent never changes status again.
- `settled_at` is set exactly once, in the transaction that marks the intent succeeded
  and calls the payable's `settle` handler; a succeeded intent always has a receipt number.
- Payment events are append-only: every callback, requery and wallet payment is logged
  with its outcome (applied, noted, duplicate, ignored, rejected).
- No card number, expiry or CVV is stored anywhere in eBiz.
"""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class IntentStatus:
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    ALL = (PENDING, SUCCEEDED, FAILED, EXPIRED)
    SHOWN_ABANDONED = "abandoned"  # only shown (PaymentIntent.shown_status), never stored


INTENT_STATUS_LABELS = {
    IntentStatus.PENDING: _l("Pending"),
    IntentStatus.SUCCEEDED: lazy_pgettext("payment status", "Paid"),
    IntentStatus.FAILED: _l("Not paid"),
    IntentStatus.EXPIRED: _l("Expired"),
    IntentStatus.SHOWN_ABANDONED: _l("Not completed"),
}


class Method:
    FPX = "fpx"
    CARD = "card"
    WALLET = "wallet"
    CASH = "cash"  # at a counter
    TERMINAL = "terminal"  # a counter's card terminal (its approval code recorded)
    ALL = (FPX, CARD, WALLET, CASH, TERMINAL)
    ONLINE = (FPX, CARD)
    COUNTER = (CASH, TERMINAL)


METHOD_LABELS = {
    Method.FPX: _l("FPX online banking"),
    Method.CARD: _l("Credit or debit card (Visa, Mastercard)"),
    Method.WALLET: _l("eBiz wallet"),
    Method.CASH: _l("Cash at the counter"),
    Method.TERMINAL: _l("Card at the counter's terminal"),
    "free": _l("Free of charge"),  # an order of RM 0.00, confirmed without a payment
}


class PendingReason:
    """Why a pending intent is pending (shown to the customer with what they can do)."""

    AWAITING_CUSTOMER = "awaiting_customer"  # not yet paid at the bank/card page
    AWAITING_BANK = "awaiting_bank"  # the bank said "pending"
    AWAITING_ANSWER = "awaiting_answer"  # paid at the bank, but no answer received yet
    AWAITING_APPROVER = "awaiting_approver"  # FPX corporate: a second approver must authorise


# For staff (the customer reads the longer payments.service.PENDING_TEXT).
PENDING_REASON_LABELS = {
    PendingReason.AWAITING_CUSTOMER: _l("Customer has not paid at the bank or card page yet"),
    PendingReason.AWAITING_BANK: _l("Bank has not confirmed yet"),
    PendingReason.AWAITING_ANSWER: _l("No answer from the bank yet"),
    PendingReason.AWAITING_APPROVER: _l("Waiting for the company's second approver"),
}


class ReviewNote:
    """Why a payment is on the staff review queue (stored as the code; shown in the reader's language)."""

    PAID_AFTER_FAILED = "paid_after_failed"
    PAID_AFTER_EXPIRED = "paid_after_expired"
    PAID_AFTER_EXPIRY = "paid_after_expiry"
    GATEWAY_SILENT = "gateway_silent"
    DISPUTED = "disputed"


REVIEW_NOTE_LABELS = {
    ReviewNote.PAID_AFTER_FAILED: _l("Paid after the payment had failed: check that the customer got what they "
                                     "paid for."),
    ReviewNote.PAID_AFTER_EXPIRED: _l("Paid after the payment had expired: check that the customer got what they "
                                      "paid for."),
    ReviewNote.PAID_AFTER_EXPIRY: _l("Paid after its time to pay had passed: check that the customer got what "
                                     "they paid for."),
    ReviewNote.GATEWAY_SILENT: _l("The gateway has not answered any requery since the payment started: check its "
                                  "status with the gateway."),
    ReviewNote.DISPUTED: _l("The payer disputed this payment with their card issuer: answer the dispute at the "
                            "gateway."),
}


def _in(col: str, values) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class PaymentIntent(db.Model):
    __tablename__ = "payment_intent"
    __table_args__ = (
        CheckConstraint("amount_sen > 0", name="amount_positive"),
        CheckConstraint(_in("status", IntentStatus.ALL), name="status"),
        CheckConstraint(_in("method", Method.ALL), name="method"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_payment_intent_user_key"),
        Index("ix_payment_intent_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    payable_ref: Mapped[str] = mapped_column(String(64), index=True)
    amount_sen: Mapped[int] = mapped_column(db.BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="MYR")
    method: Mapped[str] = mapped_column(String(10))
    bank_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=IntentStatus.PENDING)
    pending_reason: Mapped[str | None] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    gateway: Mapped[str | None] = mapped_column(String(20))
    gateway_txn_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    gateway_status: Mapped[str | None] = mapped_column(String(40))
    # The gateway's payment id when it differs from gateway_txn_id (Stripe: the PaymentIntent
    # pi_..., known once the customer pays; gateway_txn_id holds the Checkout Session cs_...).
    gateway_payment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_note: Mapped[str | None] = mapped_column(String(300))  # a ReviewNote code
    # Paid at a counter (cash, its card terminal, or the wallet there): which one, as the receipt names it.
    counter_code: Mapped[str | None] = mapped_column(String(10))
    counter_name: Mapped[str | None] = mapped_column(String(120))
    approval_code: Mapped[str | None] = mapped_column(String(20))  # the card terminal's approval code
    payer: Mapped[dict | None] = mapped_column(JSON)  # who paid, as the receipt names them (receipts.payer_snapshot)
    requery_count: Mapped[int] = mapped_column(default=0)
    next_requery_at: Mapped[object | None] = mapped_column(db.DateTime)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    expires_at: Mapped[object] = mapped_column(db.DateTime)
    succeeded_at: Mapped[object | None] = mapped_column(db.DateTime)
    settled_at: Mapped[object | None] = mapped_column(db.DateTime)

    user = relationship("User", lazy="joined")

    @property
    def is_online(self) -> bool:
        return self.method in Method.ONLINE

    @property
    def shown_status(self) -> str:
        """The status as the customer reads it: a payment the bank never saw, whose time to pay has
        passed, is "abandoned" (not "pending") even before reconciliation expires it."""
        if self.status == IntentStatus.PENDING and self.pending_reason == PendingReason.AWAITING_CUSTOMER \
                and self.expires_at is not None and self.expires_at <= utcnow():
            return IntentStatus.SHOWN_ABANDONED
        return self.status

    def __repr__(self) -> str:
        return f"<PaymentIntent {self.reference} {self.method} {self.status} {self.amount_sen}>"


class PaymentEvent(db.Model):
    """What happened to an intent, and what eBiz did about it (append-only)."""

    __tablename__ = "payment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intent.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # callback, return, requery, reconcile, wallet, system
    gateway_status: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12))  # applied, noted, duplicate, ignored, rejected
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # "<gateway>:<event id>" for gateways whose event ids are unique (Stripe): each event applied once
    gateway_event_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)


class RefundStatus:
    OPEN = "open"
    DONE = "done"
    ALL = (OPEN, DONE)


REFUND_STATUS_LABELS = {
    RefundStatus.OPEN: lazy_pgettext("refund status", "Open"),
    RefundStatus.DONE: lazy_pgettext("refund status", "Done"),
}


class RefundReason:
    """Why money must go back (stored as the code; `reason` keeps only a reference or staff's own words)."""

    ORDER_UNPAYABLE = "order_unpayable"
    ORDER_MISSING = "order_missing"
    ORDER_CANCELLED = "order_cancelled"
    TOPUP_NOT_CREDITED = "topup_not_credited"
    UNDELIVERABLE = "undeliverable"
    SUPPORT_TICKET = "support_ticket"


REFUND_REASON_LABELS = {
    RefundReason.ORDER_UNPAYABLE: _l("Paid for an order that could no longer be paid (cancelled, expired or "
                                     "paid already)"),
    RefundReason.ORDER_MISSING: _l("Paid for an order that does not exist"),
    RefundReason.ORDER_CANCELLED: _l("Paid order cancelled by staff"),
    RefundReason.TOPUP_NOT_CREDITED: _l("Top-up that could not be credited (no wallet, or over the maximum "
                                        "balance)"),
    RefundReason.UNDELIVERABLE: _l("Paid for something that could not be delivered"),
    RefundReason.SUPPORT_TICKET: _l("Returned by customer service on a support ticket"),
}


class RefundRequest(db.Model):
    """A staff refund-queue entry: money received that must go back to the customer."""

    __tablename__ = "refund_request"
    __table_args__ = (
        CheckConstraint("amount_sen > 0", name="amount_positive"),
        CheckConstraint(_in("status", RefundStatus.ALL), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("payment_intent.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    amount_sen: Mapped[int] = mapped_column(db.BigInteger)
    reason_code: Mapped[str] = mapped_column(String(30), default=RefundReason.UNDELIVERABLE,
                                             server_default=RefundReason.UNDELIVERABLE)
    reason: Mapped[str] = mapped_column(String(300))  # a reference or the staff's words, shown after the code's label
    status: Mapped[str] = mapped_column(String(10), default=RefundStatus.OPEN, index=True)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[object | None] = mapped_column(db.DateTime)
    resolution_note: Mapped[str | None] = mapped_column(String(300))
    # Returned through the gateway (payments.refunds): issuing -> pending -> succeeded | failed
    gateway_status: Mapped[str | None] = mapped_column(String(12))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_at: Mapped[object | None] = mapped_column(db.DateTime)

    intent = relationship("PaymentIntent")
    user = relationship("User", foreign_keys=[user_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    issued_by = relationship("User", foreign_keys=[issued_by_id])


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(PaymentEvent, "before_update")
@event.listens_for(PaymentEvent, "before_delete")
def _append_only(*_):
    raise AppendOnlyError("payment events are append-only")
