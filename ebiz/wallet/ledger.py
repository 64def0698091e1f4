"""The ledger itself: accounts and balances, `post` (the one way money moves), paying for things
(`collect`, `refund_to_wallet`, `return_payment`), statements and checks, and the balances brought
from the old system.

Invariants:
- Every posting sums to zero, has no zero entry and is written by `post` (or, for many system-only
  postings at once, `open_legacy_balances`); each has an idempotency key under a unique constraint
  and a repeat (or a concurrent twin) returns the first posting.
- Wallet balances change only in `post` (`_move`), by conditional UPDATEs (`balance + x >= 0`) that
  take the row lock themselves (on SQLite inside an immediate write transaction), debits last, so
  concurrent spends never overdraw a wallet; a refused debit writes nothing of the posting.
- `collect` is idempotent per intent; money that came in and cannot be delivered is given back
  exactly once (`return_payment`: to the wallet while it fits the maximum balance, else queued).
- A posting's memo is only a language-neutral detail; `describe_posting` builds what a statement
  shows, in the reader's language.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from ..accounts.models import Role, Tier, User
from ..clock import utcnow
from ..db import begin_write, dialect_insert, insert_new, lock_one
from ..errors import InsufficientFunds, TierRequired, ValidationError
from ..extensions import db
from ..payments import service as payments
from ..payments.models import Method
from .models import (
    POSTING_DESCRIPTIONS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    PostingKind,
    SystemAccount,
)


# -- accounts ------------------------------------------------------------------------------
def has_wallet(user) -> bool:
    """Only Primary customers hold a wallet."""
    return bool(user is not None and user.role == Role.CUSTOMER and user.tier == Tier.PRIMARY)


def _get_or_create(code: str, kind: str, user_id: int | None = None) -> LedgerAccount:
    acct = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if acct is not None:
        return acct
    try:
        with db.session.begin_nested():
            acct = LedgerAccount(code=code, kind=kind, user_id=user_id, balance_sen=0)
            db.session.add(acct)
    except IntegrityError:
        acct = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    return acct


def system_account(code: str) -> LedgerAccount:
    if code not in SystemAccount.ALL:
        raise ValueError(code)
    return _get_or_create(code, AccountKind.SYSTEM)


COUNTER_ACCOUNT_PREFIX = {Method.CASH: "counter_cash:", Method.TERMINAL: "counter_card:"}


def counter_account_code(counter_code: str, method: str) -> str:
    """The ledger code of a counter's cash or card-terminal clearing account ("counter_cash:SGR")."""
    if method not in COUNTER_ACCOUNT_PREFIX or not counter_code:
        raise ValueError((counter_code, method))
    return f"{COUNTER_ACCOUNT_PREFIX[method]}{counter_code}"


def counter_account(counter_code: str, method: str) -> LedgerAccount:
    """Each counter has its own cash and card clearing accounts (system accounts, no cached balance)."""
    return _get_or_create(counter_account_code(counter_code, method), AccountKind.SYSTEM)


def wallet_account(user, *, create: bool = True) -> LedgerAccount | None:
    if not create:
        return db.session.scalar(select(LedgerAccount).where(LedgerAccount.user_id == user.id))
    return _get_or_create(f"wallet:{user.id}", AccountKind.WALLET, user.id)


def balance(user) -> int:
    """The wallet balance in sen (0 when the user has no wallet yet)."""
    value = db.session.scalar(select(LedgerAccount.balance_sen).where(LedgerAccount.user_id == user.id))
    return int(value or 0)


# -- the one way money moves -------------------------------------------------------------------
def post(kind: str, key: str, lines: list[tuple[LedgerAccount, int]], *, memo: str = "",
         intent=None, actor=None) -> tuple[LedgerPosting, bool]:
    """Write one balanced posting (idempotent by `key`); returns (posting, created).

    The posting row is `INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING`: a
    repeat (or a concurrent twin, which waits on the unique index) finds the first posting.
    Wallet balances move by conditional UPDATE, debits last (so the hot row is locked for
    the shortest time); while a payment is being settled they are deferred to the end of
    the settlement (`payments.deferred_hooks`). A debit that would go below zero raises
    InsufficientFunds and nothing of the posting is written (its own savepoint, or the
    settling payment's).
    """
    if not lines or sum(amount for _, amount in lines) != 0 or any(amount == 0 for _, amount in lines):
        raise ValueError("a posting's entries must be non-zero and sum to zero")
    begin_write()
    hooks = payments.deferred_hooks()
    # Settling a payment, the payment's own savepoint undoes the posting if the deferred debit
    # fails; anywhere else the posting gets a savepoint of its own.
    with nullcontext() if hooks is not None else db.session.begin_nested():
        now = utcnow()
        posting = insert_new(LedgerPosting, dict(
            idempotency_key=key, kind=kind, memo=str(memo)[:300], intent_id=getattr(intent, "id", None),
            actor_id=getattr(actor, "id", None), created_at=now), unique=["idempotency_key"])
        if posting is None:  # moved before under this key: the first posting is the answer
            return db.session.scalar(select(LedgerPosting).where(LedgerPosting.idempotency_key == key)), False
        db.session.add_all([LedgerEntry(posting_id=posting.id, account_id=acct.id, amount_sen=amount,
                                        created_at=now) for acct, amount in lines])
        wallet_moves = sorted(((acct.id, amount) for acct, amount in lines if acct.kind == AccountKind.WALLET),
                              key=lambda m: (m[1] < 0, m[0]))
        for account_id, amount in wallet_moves:
            if hooks is not None:  # settling a payment: the hot row is touched last (payments._succeed)
                hooks.append(partial(_move, account_id, amount))
            else:
                _move(account_id, amount)
        if hooks is None:
            db.session.flush()
    return posting, True


def _move(account_id: int, amount: int) -> None:
    """Change a wallet's cached balance; the conditional UPDATE takes the row lock itself and
    refuses to go below zero (on SQLite inside the immediate write transaction)."""
    done = db.session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id, LedgerAccount.balance_sen + amount >= 0)
        .values(balance_sen=LedgerAccount.balance_sen + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise InsufficientFunds()
    acct = db.session.identity_map.get(identity_key(LedgerAccount, account_id))
    if acct is not None:
        db.session.expire(acct, ["balance_sen"])


# -- paying for things -----------------------------------------------------------------------
def _accounts(*codes: tuple[str, str, int | None]) -> list[LedgerAccount]:
    """Several accounts (code, kind, user_id) by one query; the missing ones are created."""
    found = {a.code: a for a in db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.code.in_([code for code, _k, _u in codes])))}
    return [found.get(code) or _get_or_create(code, kind, user_id) for code, kind, user_id in codes]


def collect(intent) -> LedgerPosting:
    """Ledger posting for a succeeded intent that pays for something (idempotent per intent)."""
    if intent.method == Method.WALLET:
        user = intent.user or db.session.get(User, intent.user_id)
        if not has_wallet(user):
            raise TierRequired()
        revenue, wallet = _accounts((SystemAccount.REVENUE, AccountKind.SYSTEM, None),
                                    (f"wallet:{user.id}", AccountKind.WALLET, user.id))
        lines = [(revenue, intent.amount_sen), (wallet, -intent.amount_sen)]
        kind = PostingKind.SPEND
    elif intent.method in Method.COUNTER:  # cash or card terminal at a counter: that counter's clearing account
        revenue = system_account(SystemAccount.REVENUE)
        till = counter_account(intent.counter_code, intent.method)
        lines = [(revenue, intent.amount_sen), (till, -intent.amount_sen)]
        kind = PostingKind.PAYMENT
    else:
        revenue = system_account(SystemAccount.REVENUE)
        lines = [(revenue, intent.amount_sen), (system_account(SystemAccount.CLEARING), -intent.amount_sen)]
        kind = PostingKind.PAYMENT
    posting, _ = post(kind, f"collect:{intent.reference}", lines, memo=intent.payable_ref, intent=intent)
    return posting


def refund_to_wallet(user, amount_sen: int, *, idempotency_key: str, memo: str) -> LedgerPosting:
    """Credit money back to the customer's wallet from the refunds account."""
    if not has_wallet(user):
        raise TierRequired()
    _positive(amount_sen)
    posting, _ = post(PostingKind.REFUND, f"refund:{idempotency_key}",
                      [(wallet_account(user), amount_sen), (system_account(SystemAccount.REFUNDS), -amount_sen)],
                      memo=memo)
    return posting


def return_payment(intent, reason_code: str, detail: str = "") -> str:
    """Money came in for something that cannot be delivered: give it back. Returns "wallet" or "queue".

    `reason_code` (a payments RefundReason) and `detail` are for the staff refund queue; the
    wallet statement shows "Refund for <payable>". Money paid from the wallet goes back to it; money
    paid online goes to the wallet only while it stays within the maximum balance, as a top-up
    would (else the staff refund queue pays it back)."""
    collect(intent)
    user = intent.user or db.session.get(User, intent.user_id)
    if has_wallet(user) and (intent.method == Method.WALLET or _fits(user, intent.amount_sen)):
        refund_to_wallet(user, intent.amount_sen, idempotency_key=f"return:{intent.reference}",
                         memo=intent.payable_ref)
        return "wallet"
    payments.queue_refund(intent, intent.amount_sen, reason_code, detail)
    return "queue"


def _fits(user, amount_sen: int) -> bool:
    """Whether crediting `amount_sen` keeps the wallet within its maximum balance (checked
    against the locked balance, as a top-up is)."""
    return amount_sen <= current_app.config["WALLET_MAX_BALANCE_SEN"] - _locked_balance(user)


def _book_refund_paid(refund) -> None:
    """Staff paid a queued refund back (bank transfer, gateway refund): the money leaves through
    the gateway clearing account, charged to refunds. Registered with payments."""
    post(PostingKind.REFUND_PAID, f"refund-paid:{refund.reference}",
         [(system_account(SystemAccount.REFUNDS), -refund.amount_sen),
          (system_account(SystemAccount.CLEARING), refund.amount_sen)], memo=refund.reference)



def clearing_movements(start, end) -> tuple[int, int]:
    """(taken in, paid out) through the gateway clearing account between two UTC times: the ledger's
    side of the payments console's daily settlement check. Registered with payments."""
    amount = LedgerEntry.amount_sen
    row = db.session.execute(
        select(func.coalesce(func.sum(-amount).filter(amount < 0), 0),
               func.coalesce(func.sum(amount).filter(amount > 0), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.code == SystemAccount.CLEARING, LedgerEntry.created_at >= start,
               LedgerEntry.created_at < end)).one()
    return int(row[0]), int(row[1])



def _positive(amount_sen) -> None:
    if not isinstance(amount_sen, int) or isinstance(amount_sen, bool) or amount_sen <= 0:
        raise ValidationError(_l("The amount must be more than RM 0.00."), field="amount")

def _locked_balance(user) -> int:
    """The wallet's balance with its row locked until the commit, so that a credit checked
    against the maximum balance cannot be overtaken by a concurrent one (top-ups only: the
    spending path never takes this lock early)."""
    acct = wallet_account(user)
    return int(lock_one(select(LedgerAccount.balance_sen).where(LedgerAccount.id == acct.id)))



# -- statements and checks ------------------------------------------------------------------------
def describe_posting(kind: str, memo: str) -> str:
    """What a statement shows for a posting, in the current language: its kind's text around the memo."""
    text = POSTING_DESCRIPTIONS.get(kind)
    return memo if text is None else str(text) % {"detail": memo}


def statement(user, *, since=None, until=None) -> tuple[int, list[dict], int]:
    """(opening balance, rows with running balance, closing balance) for [since, until).

    Each row: at, kind, memo, description (`describe_posting`, current language), amount_sen, balance_sen."""
    acct = wallet_account(user, create=False)
    if acct is None:
        return 0, [], 0
    opening = 0
    if since is not None:
        opening = int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0))
                                        .where(LedgerEntry.account_id == acct.id, LedgerEntry.created_at < since)))
    q = (select(LedgerEntry, LedgerPosting).join(LedgerPosting, LedgerEntry.posting_id == LedgerPosting.id)
         .where(LedgerEntry.account_id == acct.id).order_by(LedgerEntry.id))
    if since is not None:
        q = q.where(LedgerEntry.created_at >= since)
    if until is not None:
        q = q.where(LedgerEntry.created_at < until)
    rows, running = [], opening
    for entry, posting in db.session.execute(q):
        running += entry.amount_sen
        rows.append({"at": entry.created_at, "kind": posting.kind, "memo": posting.memo,
                     "description": describe_posting(posting.kind, posting.memo),
                     "amount_sen": entry.amount_sen, "balance_sen": running})
    return opening, rows, running


def account_total(code: str, since, until) -> int:
    """The sum of a ledger account's entries in [since, until) (0 when the account does not exist)."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0)).join(LedgerAccount)
        .where(LedgerAccount.code == code, LedgerEntry.created_at >= since, LedgerEntry.created_at < until)))


def collected_total(intent_refs: list[str]) -> int:
    """What the ledger's revenue account received for these payment intents (their `collect` postings)."""
    if not intent_refs:
        return 0
    return int(db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0))
        .join(LedgerPosting, LedgerEntry.posting_id == LedgerPosting.id).join(LedgerAccount)
        .where(LedgerAccount.code == SystemAccount.REVENUE,
               LedgerPosting.idempotency_key.in_([f"collect:{ref}" for ref in intent_refs]))))


def verify() -> list[str]:
    """Problems found in the ledger (empty when it is sound)."""
    problems = []
    unbalanced = db.session.execute(
        select(LedgerEntry.posting_id, func.sum(LedgerEntry.amount_sen))
        .group_by(LedgerEntry.posting_id).having(func.sum(LedgerEntry.amount_sen) != 0)).all()
    problems += [f"posting {pid} sums to {total}, not 0" for pid, total in unbalanced]
    empty = db.session.scalars(select(LedgerPosting.id).where(~LedgerPosting.entries.any())).all()
    problems += [f"posting {pid} has no entries" for pid in empty]
    sums = dict(db.session.execute(select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_sen))
                                   .group_by(LedgerEntry.account_id)).all())
    for acct in db.session.scalars(select(LedgerAccount).where(LedgerAccount.kind == AccountKind.WALLET)):
        total = int(sums.get(acct.id) or 0)
        if total != acct.balance_sen:
            problems.append(f"wallet {acct.code}: cached balance {acct.balance_sen} != sum of entries {total}")
        if acct.balance_sen < 0:
            problems.append(f"wallet {acct.code}: negative balance {acct.balance_sen}")
    grand = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0)))
    if grand:
        problems.append(f"all entries sum to {grand}, not 0")
    return problems


# -- balances brought from the old system (ebiz/migration/) ------------------------------------
def open_legacy_balances(openings: list[tuple[str, int]]) -> int:
    """Opening postings for the old system's balances: legacy_opening -> legacy_unclaimed, one per
    old customer id (the idempotency key), so importing the same export twice opens nothing twice.

    A batch at a time (the import's): one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING`
    for the postings and one for their entries. Only system accounts move (no cached balance), so
    this is `post` for many postings at once; each still has two entries summing to zero (and the
    PostgreSQL guards check it at commit). Returns how many postings were new."""
    openings = [(legacy_id, amount) for legacy_id, amount in openings if amount]
    if not openings:
        return 0
    for _legacy_id, amount_sen in openings:
        _positive(amount_sen)
    begin_write()
    opening, unclaimed = _accounts((SystemAccount.LEGACY_OPENING, AccountKind.SYSTEM, None),
                                   (SystemAccount.LEGACY_UNCLAIMED, AccountKind.SYSTEM, None))
    insert = dialect_insert()
    now = utcnow()
    amounts = {f"legacy-opening:{legacy_id}": amount for legacy_id, amount in openings}
    postings = LedgerPosting.__table__
    made = db.session.execute(
        insert(postings).on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(postings.c.id, postings.c.idempotency_key),
        [dict(idempotency_key=key, kind=PostingKind.LEGACY_OPENING, memo=key.split(":", 1)[1][:300],
              created_at=now) for key in amounts]).all()
    if made:
        db.session.execute(LedgerEntry.__table__.insert(), [
            dict(posting_id=pid, account_id=acct.id, amount_sen=sign * amounts[key], created_at=now)
            for pid, key in made for acct, sign in ((unclaimed, 1), (opening, -1))])
    return len(made)


def claim_legacy_balance(user, legacy_id: str, amount_sen: int) -> LedgerPosting | None:
    """Move an old customer's opened balance into `user`'s wallet (once per old customer id); the
    wallet is the one the customer keeps, so merged accounts' balances add up in it."""
    if amount_sen <= 0:
        return None
    posting, _ = post(PostingKind.LEGACY_CLAIM, f"legacy-claim:{legacy_id}",
                      [(wallet_account(user), amount_sen),
                       (system_account(SystemAccount.LEGACY_UNCLAIMED), -amount_sen)], memo=legacy_id)
    return posting


def legacy_totals() -> tuple[int, int]:
    """(sen opened from the old system, sen still unclaimed), from the ledger's entries."""
    rows = dict(db.session.execute(
        select(LedgerAccount.code, func.coalesce(func.sum(LedgerEntry.amount_sen), 0))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.code.in_([SystemAccount.LEGACY_OPENING, SystemAccount.LEGACY_UNCLAIMED]))
        .group_by(LedgerAccount.code)).all())
    return -int(rows.get(SystemAccount.LEGACY_OPENING, 0)), int(rows.get(SystemAccount.LEGACY_UNCLAIMED, 0))
