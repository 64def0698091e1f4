"""Staff adjustments of a wallet, maker-checker.

Invariants:
- Only admin and support staff propose or decide; only Primary customers' wallets are adjusted;
  the amount is a non-zero whole number of sen and a reason is given.
- A proposal is decided once, under its row lock, by another staff member than its maker; money
  moves only on approval, through `post` (idempotent per adjustment), in the same transaction as
  the audit record.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import Role, User
from ..audit.service import record
from ..clock import utcnow
from ..db import lock_one
from ..errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ..extensions import db
from ..refs import new_reference
from .ledger import (
    has_wallet,
    post,
    system_account,
    wallet_account,
)
from .models import (
    AdjustmentStatus,
    PostingKind,
    SystemAccount,
    WalletAdjustment,
)

# -- staff adjustments (maker-checker) --------------------------------------------------------------
ADJUSTER_ROLES = (Role.ADMIN, Role.SUPPORT)


def propose_adjustment(maker, customer, amount_sen: int, reason: str, *, ip: str | None = None) -> WalletAdjustment:
    if maker.role not in ADJUSTER_ROLES:
        raise Forbidden()
    if not has_wallet(customer):
        raise TierRequired(_l("This customer has no wallet (only Primary customers do)."))
    if not isinstance(amount_sen, int) or amount_sen == 0:
        raise ValidationError(_l("Enter a non-zero amount."), field="amount")
    if not (reason or "").strip():
        raise ValidationError(_l("Give the reason for the adjustment."), field="reason")
    adj = WalletAdjustment(reference=new_reference("ADJ"), user_id=customer.id, amount_sen=amount_sen,
                           reason=reason.strip()[:300], maker_id=maker.id)
    db.session.add(adj)
    db.session.flush()
    record("wallet.adjustment_proposed", actor=maker, target=adj, ip=ip, reference=adj.reference,
           customer_id=customer.id, amount_sen=amount_sen)
    return adj


def decide_adjustment(checker, reference: str, *, approve: bool, ip: str | None = None) -> WalletAdjustment:
    """A second staff member approves (the money moves) or rejects a proposed adjustment."""
    if checker.role not in ADJUSTER_ROLES:
        raise Forbidden()
    adj = lock_one(select(WalletAdjustment).where(WalletAdjustment.reference == reference), of=WalletAdjustment)
    if adj is None:
        raise NotFound()
    if adj.status != AdjustmentStatus.PROPOSED:
        raise Conflict(_l("This adjustment has already been decided."))
    if adj.maker_id == checker.id:
        raise Forbidden(_l("Another staff member must approve an adjustment you proposed."))
    adj.checker_id, adj.decided_at = checker.id, utcnow()
    if approve:
        customer = db.session.get(User, adj.user_id)
        posting, _ = post(PostingKind.ADJUSTMENT, f"adjustment:{adj.reference}",
                          [(wallet_account(customer), adj.amount_sen),
                           (system_account(SystemAccount.ADJUSTMENTS), -adj.amount_sen)],
                          memo=f"{adj.reference}: {adj.reason}", actor=checker)
        adj.posting_id, adj.status = posting.id, AdjustmentStatus.APPROVED
    else:
        adj.status = AdjustmentStatus.REJECTED
    record(f"wallet.adjustment_{adj.status}", actor=checker, target=adj, ip=ip, reference=adj.reference,
           amount_sen=adj.amount_sen, maker_id=adj.maker_id)
    return adj
