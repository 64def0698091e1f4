"""Company accounts: representatives (with their history) and runner OTPs.

A company account is a `user_account` of kind "company" (accounts owns it: the company's
name, its normalised SSM registration number and the current representative's MyKad).
This domain keeps what accounts does not:

Invariants:
- `company_representative` holds the history of a company's representatives; at most one
  row per company is current (`until` IS NULL; a partial unique index). A change closes the
  current row and opens a new one in the same transaction, with who changed it, why, and a
  reference (a support ticket number once the support desk exists; free text until then).
  A company with no row yet is represented by what it registered with (`service.current`).
- A runner OTP is 8 digits from `secrets`; only its HMAC (keyed by the app's secret, so a
  leaked table cannot be brute-forced offline) is stored, never the code.
- A runner OTP is used at most once: `status` moves live -> used or live -> revoked only by
  a conditional UPDATE (`WHERE status = 'live'`), and a counter session points at it under a
  unique constraint. Expiry is a time, not a status (`expires_at`).
- `spent_sen` never exceeds `cap_sen` (a CHECK, and the conditional UPDATE that spends).
- `runner_otp_lock` has one row per company: wrong tries counted in the database, so the
  lockout (five wrong tries: 15 minutes) holds across workers and hosts.
"""

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class OtpStatus:
    LIVE = "live"
    USED = "used"
    REVOKED = "revoked"
    ALL = (LIVE, USED, REVOKED)


class Representative(db.Model):
    __tablename__ = "company_representative"
    __table_args__ = (
        Index("uq_company_representative_current", "company_id", unique=True,
              sqlite_where=text("until IS NULL"), postgresql_where=text("until IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    mykad: Mapped[str] = mapped_column(String(12))
    since: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    until: Mapped[object | None] = mapped_column(db.DateTime)
    reason: Mapped[str | None] = mapped_column(String(300))
    reference: Mapped[str | None] = mapped_column(String(60))  # support ticket number, or free text
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    changed_by = relationship("User", foreign_keys=[changed_by_id])


class RunnerOtp(db.Model):
    __tablename__ = "runner_otp"
    __table_args__ = (
        CheckConstraint("status IN ('live', 'used', 'revoked')", name="status"),
        CheckConstraint("cap_sen >= 0", name="cap_nonnegative"),
        CheckConstraint("spent_sen >= 0 AND spent_sen <= cap_sen", name="spent_within_cap"),
        CheckConstraint("runner_id_type IN ('mykad', 'passport')", name="runner_id_type"),
        Index("ix_runner_otp_company_status", "company_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    runner_name: Mapped[str] = mapped_column(String(200))
    runner_id_type: Mapped[str] = mapped_column(String(10))
    runner_id_no: Mapped[str] = mapped_column(String(20))
    may_collect: Mapped[bool] = mapped_column(default=True)
    may_buy: Mapped[bool] = mapped_column(default=False)
    may_use_wallet: Mapped[bool] = mapped_column(default=False)
    cap_sen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    spent_sen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))  # None: any counter
    status: Mapped[str] = mapped_column(String(10), default=OtpStatus.LIVE)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    expires_at: Mapped[object] = mapped_column(db.DateTime)
    used_at: Mapped[object | None] = mapped_column(db.DateTime)
    used_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # the counter staff member
    revoked_at: Mapped[object | None] = mapped_column(db.DateTime)

    counter = relationship("Counter", foreign_keys=[counter_id])
    used_counter = relationship("Counter", foreign_keys=[used_counter_id])
    used_by = relationship("User", foreign_keys=[used_by_id])

    def is_expired(self, now=None) -> bool:
        return self.expires_at <= (now or utcnow())


class RunnerOtpLock(db.Model):
    """Wrong runner-OTP tries per company, and until when its OTPs are locked."""

    __tablename__ = "runner_otp_lock"

    company_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[object | None] = mapped_column(db.DateTime)
