"""What the order pages read: a customer's order by its reference, the lists of their orders and
training seats, the grants of an order's lines, why an unpaid order is still unpaid.

Invariants:
- Read only: nothing here changes an order (`order_for_owner(lock=True)` only locks it for a
  request that will).
- Every lookup for a customer goes through `order_for_owner` (reference plus ownership; staff
  see all); someone else's order is "not found", never "forbidden".
- Lists load what their page shows in a fixed number of queries, whatever their length.
- Orders kept elsewhere (the old system's) come from sources a higher domain registers at app
  setup (`register_history_source`); orders never imports that domain.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..errors import NotFound
from ..extensions import db
from ..licensing.models import LicenceGrant
from ..payments.service import pending_text
from .common import S, _intent, _lock
from .models import Order, OrderLine

# "My orders" filter by payment status: name -> statuses.
PAYMENT_FILTERS: dict[str, tuple[str, ...]] = {
    "awaiting": (S.PENDING,),
    "successful": (S.PAID, S.FULFILLED),
    "refunded": (S.REFUNDED,),
    "closed": (S.CANCELLED, S.EXPIRED),
}
# Orders kept elsewhere (the old system's, ebiz/migration/) shown read-only in "My orders": a domain
# above this one registers a function user -> list of rows at app setup.
_HISTORY_SOURCES: list = []


def register_history_source(fn) -> None:
    if fn not in _HISTORY_SOURCES:
        _HISTORY_SOURCES.append(fn)


def history_elsewhere(user) -> list:
    return [row for fn in _HISTORY_SOURCES for row in fn(user)]


def order_for_owner(reference: str, user, *, lock: bool = False) -> Order:
    """`lock`: for a request that will change the order (it stays locked until the commit)."""
    q = select(Order).where(Order.reference == (reference or "").strip().upper())
    order = _lock(q) if lock else db.session.scalar(q)
    if order is None or not (order.user_id == user.id or user.is_staff):
        raise NotFound(_l("We could not find this order."))
    return order


def orders_of(user, payment_filter: str | None = None):
    """The user's orders, newest first, with their lines (loaded for the whole page at once)."""
    q = select(Order).where(Order.user_id == user.id).options(selectinload(Order.lines)) \
        .order_by(Order.created_at.desc(), Order.id.desc())
    if payment_filter in PAYMENT_FILTERS:
        q = q.where(Order.status.in_(PAYMENT_FILTERS[payment_filter]))
    return q


def training_registrations(user) -> list[OrderLine]:
    """Training lines of the user's orders that hold (or await payment for) a seat, each with its
    order and session (one query for the page)."""
    return list(db.session.scalars(
        select(OrderLine).join(Order).where(
            Order.user_id == user.id, OrderLine.session_id.is_not(None),
            Order.status.in_((S.PENDING, S.PAID, S.FULFILLED)))
        .options(contains_eager(OrderLine.order), joinedload(OrderLine.session))
        .order_by(OrderLine.id.desc())))


def grants_by_line(order: Order) -> dict:
    ids = [ln.id for ln in order.lines]
    if not ids:
        return {}
    return {g.order_line_id: g for g in db.session.scalars(
        select(LicenceGrant).where(LicenceGrant.order_line_id.in_(ids)))}


def pending_reason(order: Order) -> str | None:
    """Why an unpaid order is still unpaid, and what the customer can do (from its latest payment)."""
    if order.status != S.PENDING:
        return None
    intent = _intent(order.payment_ref)
    if intent is not None and intent.status == "pending":
        return " ".join(str(t) for t in pending_text(intent))
    if intent is not None and intent.status in ("failed", "expired"):
        # Not "nothing was charged": a payment we gave up on may still be paid at the bank later.
        return str(_l("Your last payment attempt did not go through (declined, cancelled, abandoned or timed "
                      "out). You can pay again below before the order expires. If your bank took money for it "
                      "after all, it is returned to you automatically and we tell you by email."))
    return str(_l("Waiting for your payment. Pay before the order expires, or it is cancelled and "
                  "its seats and stock are released."))
