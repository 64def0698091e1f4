"""Top-ups: the checks every top-up keeps, online top-ups (a "wallet_topup" payable of payments),
and what the wallet registers with payments. (The HQ counter's top-up, `topup_at_counter`, stays in
service.py until the Counter model moves to a lower floor: ebiz/floors.py names that import there.)

Invariants:
- Every top-up keeps the wallet within its maximum balance, checked against the locked balance
  (`_locked_balance`) when the credit follows in the same transaction; online top-ups also keep
  to the per-top-up minimum and maximum.
- A settled online top-up that cannot be credited (no longer Primary, wallet full) is never
  dropped: it is booked as owed and queued for a refund.
"""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from ..accounts.models import User
from ..errors import TierRequired, ValidationError
from ..extensions import db
from ..money import format_sen
from ..payments import console as payments_console
from ..payments import service as payments
from ..payments.models import Method, RefundReason
from .ledger import (
    _book_refund_paid,
    _fits,
    _locked_balance,
    _positive,
    balance,
    clearing_movements,
    has_wallet,
    post,
    system_account,
    wallet_account,
)
from .models import (
    PostingKind,
    SystemAccount,
)

TOPUP_KIND = "wallet_topup"


# -- top-ups ---------------------------------------------------------------------------------
def check_topup(user, amount_sen: int, *, online: bool = True, lock: bool = False) -> None:
    """Online top-ups keep to the per-top-up minimum and maximum; every top-up to the maximum balance.

    `lock`: about to credit the wallet in this transaction, so check against the locked balance."""
    cfg = current_app.config
    if not has_wallet(user):
        raise TierRequired()
    _positive(amount_sen)
    if online and amount_sen < cfg["WALLET_TOPUP_MIN_SEN"]:
        raise ValidationError(_l("The smallest top-up is %(min)s.", min=format_sen(cfg["WALLET_TOPUP_MIN_SEN"])),
                              field="amount")
    if online and amount_sen > cfg["WALLET_TOPUP_MAX_SEN"]:
        raise ValidationError(_l("The largest top-up is %(max)s.", max=format_sen(cfg["WALLET_TOPUP_MAX_SEN"])),
                              field="amount")
    held = _locked_balance(user) if lock else balance(user)
    if held + amount_sen > cfg["WALLET_MAX_BALANCE_SEN"]:
        raise ValidationError(_l("A wallet may hold at most %(max)s; you can add up to %(room)s now.",
                                 max=format_sen(cfg["WALLET_MAX_BALANCE_SEN"]),
                                 room=format_sen(max(0, cfg["WALLET_MAX_BALANCE_SEN"] - held))),
                              field="amount")


def start_topup(user, amount_sen: int, *, method: str, bank_code: str | None, idempotency_key: str):
    """An online top-up intent (FPX or card); send the customer to `payments.start_online(intent)`."""
    check_topup(user, amount_sen)
    if method not in Method.ONLINE:
        raise ValidationError(_l("Choose FPX online banking or a card."), field="method")
    return payments.create_intent(user, kind=TOPUP_KIND, payable_ref=f"wallet:{user.id}", amount_sen=amount_sen,
                                  method=method, bank_code=bank_code, idempotency_key=idempotency_key)


def _settle_topup(intent) -> None:
    user = intent.user or db.session.get(User, intent.user_id)
    if not has_wallet(user) or not _fits(user, intent.amount_sen):
        # Cannot credit (no longer Primary, or the wallet filled up meanwhile): never drop the
        # money. It arrived through the gateway and is owed back: booked so, then queued.
        post(PostingKind.REFUND_OWED, f"owed:{intent.reference}",
             [(system_account(SystemAccount.CLEARING), -intent.amount_sen),
              (system_account(SystemAccount.REFUNDS), intent.amount_sen)], memo=intent.reference, intent=intent)
        payments.queue_refund(intent, intent.amount_sen, RefundReason.TOPUP_NOT_CREDITED)
        return
    post(PostingKind.TOPUP_ONLINE, f"topup:{intent.reference}",
         [(wallet_account(user), intent.amount_sen), (system_account(SystemAccount.CLEARING), -intent.amount_sen)],
         memo=intent.reference, intent=intent)


def _describe_topup(intent) -> str:
    return str(_l("Wallet top-up"))


def _topup_return(intent) -> str:
    return url_for("wallet.home")


def register_with_payments() -> None:
    """What the wallet gives payments, called once by create_app: the top-up payable, the booking
    of refunds paid back, and the ledger's side of the daily settlement check."""
    payments.register_payable(TOPUP_KIND, settle=_settle_topup, describe=_describe_topup, return_url=_topup_return)
    payments.register_refund_handler(_book_refund_paid)
    payments_console.register_settlement_source(clearing_movements)
