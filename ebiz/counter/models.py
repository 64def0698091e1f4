"""The counter desk's own records: runner sessions, collections and counter sales.

The `Counter` itself (a place: HQ or a state office) lives on the ground floor, in
`ebiz.counters.models`; these models refer to it.

Invariants:
- A runner session acts for one company under one runner OTP's mandate; `otp_id` is unique,
  so one OTP opens at most one session, ever. It ends when closed or at `expires_at`
  (30 minutes after it opened).
- A collection records who took a ready printed order line, at which counter, from which
  staff member, and (a runner) under which session; one per order line (unique).
- A counter sale names the counter, the staff member, the order and the payment intent
  (whose receipt is the customer's receipt); `sale_key` (a form nonce) is unique, so a
  sale submitted twice is one sale. Its money is on the ledger (the counter's cash or card
  clearing account, or the customer's wallet): the day-end report reads both and a test
  proves they agree.
"""

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..counters.models import Counter
from ..extensions import db


class RunnerSession(db.Model):
    __tablename__ = "runner_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    otp_id: Mapped[int] = mapped_column(ForeignKey("runner_otp.id"), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    counter_id: Mapped[int] = mapped_column(ForeignKey("counter.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(db.DateTime)
    closed_at: Mapped[object | None] = mapped_column(db.DateTime)

    counter = relationship(Counter)
    company = relationship("User", foreign_keys=[company_id])
    staff = relationship("User", foreign_keys=[staff_id])
    otp = relationship("RunnerOtp")

    def is_open(self, now=None) -> bool:
        return self.closed_at is None and self.expires_at > (now or utcnow())


class Collection(db.Model):
    __tablename__ = "counter_collection"
    __table_args__ = (
        CheckConstraint("collected_by IN ('customer', 'representative', 'runner')", name="collected_by"),
        CheckConstraint("(collected_by = 'runner') = (runner_session_id IS NOT NULL)", name="runner_has_session"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), unique=True)
    order_reference: Mapped[str] = mapped_column(String(32), index=True)
    counter_id: Mapped[int] = mapped_column(ForeignKey("counter.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    collected_by: Mapped[str] = mapped_column(String(15))
    collector_name: Mapped[str] = mapped_column(String(200))
    collector_id_no: Mapped[str] = mapped_column(String(20))
    runner_session_id: Mapped[int | None] = mapped_column(ForeignKey("runner_session.id"), index=True)
    collected_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    counter = relationship(Counter)


class CounterSale(db.Model):
    __tablename__ = "counter_sale"
    __table_args__ = (
        CheckConstraint("method IN ('cash', 'terminal', 'wallet')", name="method"),
        CheckConstraint("amount_sen > 0", name="amount_positive"),
        CheckConstraint("method <> 'terminal' OR approval_code IS NOT NULL", name="terminal_has_approval"),
        Index("ix_counter_sale_counter_created", "counter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_key: Mapped[str] = mapped_column(String(64), unique=True)
    counter_id: Mapped[int] = mapped_column(ForeignKey("counter.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    order_reference: Mapped[str] = mapped_column(String(32), unique=True)
    payment_ref: Mapped[str] = mapped_column(String(24), unique=True)
    receipt_no: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(10))
    approval_code: Mapped[str | None] = mapped_column(String(20))
    amount_sen: Mapped[int] = mapped_column(db.BigInteger)
    runner_session_id: Mapped[int | None] = mapped_column(ForeignKey("runner_session.id"), index=True)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    counter = relationship(Counter)
    customer = relationship("User", foreign_keys=[customer_id])
    staff = relationship("User", foreign_keys=[staff_id])
