"""The wallet ledger: accounts, postings and entries (double entry), and staff adjustments.

Invariants:
- Every posting is a set of entries whose amounts sum to zero (checked in
  `service.post` before anything is written, and by `flask wallet verify`); no entry
  amount is zero.
- Entries and postings are never updated or deleted (the ORM refuses; on PostgreSQL the
  database refuses too, and checks at commit that each posting sums to zero: guards.py;
  corrections are new postings).
- Each posting carries an idempotency key under a unique constraint: a repeated money
  movement finds the first one instead of moving the money again.
- A customer wallet account (kind "wallet", one per user) caches its balance in
  `balance_sen`, changed only by `service.post` in the same transaction as the entries;
  a CHECK keeps it >= 0, and `flask wallet verify` compares it with the sum of entries.
- System accounts (gateway clearing, HQ counter cash, revenue, refunds, adjustments) keep
  no cached balance (their balance is the sum of their entries), so paying from many
  wallets at once never queues on one shared row.
- Sign convention: a positive entry on a wallet is money the customer holds; the
  counterpart entries on system accounts are negative when money comes in.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import DDL, CheckConstraint, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db
from . import guards


class AccountKind:
    WALLET = "wallet"
    SYSTEM = "system"


class SystemAccount:
    CLEARING = "gateway_clearing"
    HQ_CASH = "hq_counter_cash"
    REVENUE = "revenue"
    REFUNDS = "refunds"
    ADJUSTMENTS = "adjustments"
    # Legacy balances: opened from LEGACY_OPENING into LEGACY_UNCLAIMED at import, moved from
    # LEGACY_UNCLAIMED to the customer's wallet when they migrate (ebiz/migration/).
    LEGACY_OPENING = "legacy_opening"
    LEGACY_UNCLAIMED = "legacy_unclaimed"
    ALL = (CLEARING, HQ_CASH, REVENUE, REFUNDS, ADJUSTMENTS, LEGACY_OPENING, LEGACY_UNCLAIMED)


class PostingKind:
    TOPUP_ONLINE = "topup_online"
    TOPUP_COUNTER = "topup_counter"
    SPEND = "spend"
    PAYMENT = "payment"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    REFUND_OWED = "refund_owed"  # money received that must go back (system accounts only)
    REFUND_PAID = "refund_paid"  # a queued refund paid back by staff (system accounts only)
    LEGACY_OPENING = "legacy_opening"  # a balance of the old system, at import (system accounts only)
    LEGACY_CLAIM = "legacy_claim"  # that balance moved into the migrated customer's wallet


# A posting's memo holds only a language-neutral detail (a reference, a receipt number, a
# staff reason); what a statement shows is built from its kind in the reader's language.
POSTING_DESCRIPTIONS = {
    PostingKind.TOPUP_ONLINE: _l("Online top-up %(detail)s"),
    PostingKind.TOPUP_COUNTER: _l("Top-up at the HQ counter, receipt %(detail)s"),
    PostingKind.SPEND: _l("Payment from the wallet for %(detail)s"),
    PostingKind.PAYMENT: _l("Online payment for %(detail)s"),
    PostingKind.REFUND: _l("Refund for %(detail)s"),
    PostingKind.ADJUSTMENT: _l("Adjustment %(detail)s"),
    PostingKind.REFUND_OWED: _l("Money to return %(detail)s"),
    PostingKind.REFUND_PAID: _l("Refund paid back %(detail)s"),
    PostingKind.LEGACY_OPENING: _l("Opening balance from the old system, customer %(detail)s"),
    PostingKind.LEGACY_CLAIM: _l("Balance brought from the old system, customer %(detail)s"),
}


class LedgerAccount(db.Model):
    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint("kind IN ('wallet', 'system')", name="kind"),
        CheckConstraint("kind <> 'wallet' OR balance_sen >= 0", name="wallet_balance_not_negative"),
        CheckConstraint("(kind = 'wallet') = (user_id IS NOT NULL)", name="wallet_has_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # "wallet:<user id>" or a SystemAccount
    kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    balance_sen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    user = relationship("User")


class LedgerPosting(db.Model):
    __tablename__ = "ledger_posting"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # a PostingKind
    memo: Mapped[str] = mapped_column(String(300), default="")  # language-neutral detail (POSTING_DESCRIPTIONS)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intent.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow, index=True)

    entries = relationship("LedgerEntry", back_populates="posting", order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_sen <> 0", name="amount_not_zero"),
        Index("ix_ledger_entry_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("ledger_posting.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    amount_sen: Mapped[int] = mapped_column(db.BigInteger)
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    posting = relationship("LedgerPosting", back_populates="entries")
    account = relationship("LedgerAccount")


class AdjustmentStatus:
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ALL = (PROPOSED, APPROVED, REJECTED)


ADJUSTMENT_STATUS_LABELS = {
    AdjustmentStatus.PROPOSED: _l("Waiting for approval"),
    AdjustmentStatus.APPROVED: _l("Approved"),
    AdjustmentStatus.REJECTED: _l("Rejected"),
}


class WalletAdjustment(db.Model):
    """A staff correction of a wallet: proposed by one staff member, approved by another."""

    __tablename__ = "wallet_adjustment"
    __table_args__ = (
        CheckConstraint("amount_sen <> 0", name="amount_not_zero"),
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status"),
        CheckConstraint("checker_id IS NULL OR checker_id <> maker_id", name="four_eyes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    amount_sen: Mapped[int] = mapped_column(db.BigInteger)  # + credit the wallet, - debit it
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default=AdjustmentStatus.PROPOSED, index=True)
    maker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_posting.id"))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    decided_at: Mapped[object | None] = mapped_column(db.DateTime)

    user = relationship("User", foreign_keys=[user_id])
    maker = relationship("User", foreign_keys=[maker_id])
    checker = relationship("User", foreign_keys=[checker_id])


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
@event.listens_for(LedgerPosting, "before_update")
@event.listens_for(LedgerPosting, "before_delete")
def _append_only(*_):
    raise AppendOnlyError("ledger postings and entries are never updated or deleted")


for _statement in guards.INSTALL:  # databases built by create_all (the tests) get the guards too
    event.listen(LedgerEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
