"""The wallet domain's public entry point: views, other domains, the CLI and the tests call the
wallet through this module; the work is done in the rooms below, each with its own invariants.

- `ledger`: accounts, balances, `post` (the one way money moves), paying for things, statements,
  checks and the balances brought from the old system.
- `topups`: online and counter top-ups, and what the wallet registers with payments.
- `adjustments`: staff adjustments, maker-checker.

Each module imports only the ones above it in this list; nothing in wallet imports this one.
`topup_at_counter` itself stays in this module until the Counter model moves to a lower floor.

The contract other domains use:
- `balance(user) -> int` (sen; 0 without a wallet) and `has_wallet(user)` (Primary customers).
- `collect(intent)`: the ledger posting for a succeeded intent that pays for something:
  method "wallet" debits the customer's wallet (row lock; InsufficientFunds; a balance
  never goes negative) and credits revenue; online methods debit gateway clearing and
  credit revenue; counter methods (cash, card terminal) debit that counter's own clearing
  account (`counter_account`) and credit revenue. Idempotent per intent. Call it from your
  payable's `settle`.
- `refund_to_wallet(user, amount_sen, *, idempotency_key, memo)`: credit the wallet from
  the refunds account (idempotent per key); `memo` is the language-neutral detail shown
  after "Refund for" (e.g. the order reference).
- `return_payment(intent, reason)`: for a payable that cannot deliver after the money came
  in: the intent is collected (so the books show it arrived) and given back, to the wallet
  when the customer has one, else onto the staff refund queue.
- `topup_at_counter(*, staff, customer, amount_sen, receipt_no, ip=None) -> (posting, created)`: only staff of the
  HQ counter; only Primary customers; the counter receipt number is the idempotency key.
- Online top-ups: `start_topup(user, amount_sen, method, bank_code, idempotency_key)` makes
  a "wallet_topup" intent; its `settle` credits the wallet from gateway clearing.

Invariants (see models.py): every posting sums to zero and is written by `post` only;
wallet balances change only in `post`, by conditional UPDATEs (`balance + x >= 0`) that
take the row lock themselves on both databases (on SQLite inside an immediate write
transaction), so concurrent spends can never overdraw a wallet; each posting has an
idempotency key under a unique constraint and a repeat returns the first posting.
A posting's memo is only a language-neutral detail (a reference, a receipt number, a staff
reason): `describe_posting` builds what a statement shows, in the reader's language.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import Role
from ..audit.service import record
from ..errors import Conflict, Forbidden, ValidationError
from ..extensions import db
from .adjustments import (
    ADJUSTER_ROLES,
    decide_adjustment,
    propose_adjustment,
)
from .ledger import (
    COUNTER_ACCOUNT_PREFIX,
    account_total,
    balance,
    claim_legacy_balance,
    clearing_movements,
    collect,
    collected_total,
    counter_account,
    counter_account_code,
    describe_posting,
    has_wallet,
    legacy_totals,
    open_legacy_balances,
    post,
    refund_to_wallet,
    return_payment,
    statement,
    system_account,
    verify,
    wallet_account,
)
from .models import LedgerPosting, PostingKind, SystemAccount
from .topups import (
    TOPUP_KIND,
    check_topup,
    register_with_payments,
    start_topup,
)


# -- the HQ counter's top-up ----------------------------------------------------------------------
# Stays here, not in `topups`, while the Counter model sits on the front-desk floor: ebiz/floors.py
# KNOWN_DEBTS names this module's import of it (issue 12 §1, the Counter move).
def topup_at_counter(*, staff, customer, amount_sen: int, receipt_no: str,
                     ip: str | None = None) -> tuple[LedgerPosting, bool]:
    """A cash/card top-up taken at the HQ counter; the counter receipt number is the idempotency key.

    Returns (posting, created): created is False when this receipt was credited before (the
    same customer and amount: nothing moves again)."""
    from ..counters.models import Counter

    counter = db.session.get(Counter, staff.counter_id) if staff.counter_id else None
    if staff.role != Role.COUNTER or counter is None or not counter.is_hq or not counter.active:
        record("wallet.counter_topup_refused", actor=staff, target=customer, ip=ip, receipt_no=receipt_no,
               amount_sen=amount_sen)
        raise Forbidden(_l("Only staff of the HQ counter can top up wallets."))
    receipt_no = (receipt_no or "").strip().upper()
    if not receipt_no or len(receipt_no) > 60:
        raise ValidationError(_l("Enter the counter receipt number."), field="receipt_no")
    key = f"counter:{receipt_no}"
    existing = db.session.scalar(select(LedgerPosting).where(LedgerPosting.idempotency_key == key))
    if existing is not None:
        return _same_counter_topup(existing, customer, amount_sen), False
    check_topup(customer, amount_sen, online=False, lock=True)
    posting, created = post(PostingKind.TOPUP_COUNTER, key, [(wallet_account(customer), amount_sen),
                                                   (system_account(SystemAccount.HQ_CASH), -amount_sen)],
                            memo=receipt_no, actor=staff)
    if not created:  # a concurrent twin with this receipt number won: the same top-up, or a conflict
        return _same_counter_topup(posting, customer, amount_sen), False
    record("wallet.counter_topup", actor=staff, target=customer, ip=ip, receipt_no=receipt_no,
           amount_sen=amount_sen, posting_id=posting.id)
    return posting, True


def _same_counter_topup(posting: LedgerPosting, customer, amount_sen: int) -> LedgerPosting:
    """A receipt number used before: the same top-up again is its first result; anything else a conflict."""
    wallet_line = next((e for e in posting.entries if e.account.user_id is not None), None)
    if wallet_line is None or wallet_line.account.user_id != customer.id or wallet_line.amount_sen != amount_sen:
        raise Conflict(_l("This receipt number was already used for another top-up."), field="receipt_no")
    return posting


__all__ = [
    "topup_at_counter",
    "COUNTER_ACCOUNT_PREFIX",
    "account_total",
    "balance",
    "claim_legacy_balance",
    "clearing_movements",
    "collect",
    "collected_total",
    "counter_account",
    "counter_account_code",
    "describe_posting",
    "has_wallet",
    "legacy_totals",
    "open_legacy_balances",
    "post",
    "refund_to_wallet",
    "return_payment",
    "statement",
    "system_account",
    "verify",
    "wallet_account",
    "TOPUP_KIND",
    "check_topup",
    "register_with_payments",
    "start_topup",
    "ADJUSTER_ROLES",
    "decide_adjustment",
    "propose_adjustment",
]
