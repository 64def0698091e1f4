"""What every part of orders stands on: the order's states and the moves between them, the
order's row lock, the mail to its customer and the lookup of its payment.

Invariants:
- Status changes go through `transition`, which allows only `TRANSITIONS`; anything else is a
  Conflict naming the status the order is in (a repeated or stale request says so out loud).
- Closing an order (cancelled, expired, refunded) stamps `closed_at`, in the same step.
- An order that changes is locked first (`_lock_order`, `_lock_order_by_ref`: FOR UPDATE on
  PostgreSQL, an immediate transaction on SQLite) and stays locked until the commit; a lock
  taken outside any savepoint is remembered for the transaction, so locking (or finding) the
  same order again re-reads nothing.
"""

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..clock import utcnow
from ..db import lock_one
from ..errors import Conflict, NotFound
from ..extensions import db
from ..notifications.service import queue_mail
from ..payments.models import PaymentIntent
from .models import Order, OrderStatus

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.FULFILLED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}


# Why an order cannot change, one whole sentence per status it is in (word order differs by language).
NO_TRANSITION = {
    S.PENDING: _l("This order is still awaiting payment, so it cannot change this way."),
    S.PAID: _l("This order is already paid, so it cannot change this way."),
    S.FULFILLED: _l("This order is already fulfilled, so it cannot change this way."),
    S.CANCELLED: _l("This order is cancelled and can no longer change."),
    S.EXPIRED: _l("This order has expired and can no longer change."),
    S.REFUNDED: _l("This order has been refunded and can no longer change."),
}


def transition(order: Order, to: str) -> None:
    if to not in TRANSITIONS[order.status]:
        raise Conflict(NO_TRANSITION[order.status])
    order.status = to
    if to in (S.CANCELLED, S.EXPIRED, S.REFUNDED):
        order.closed_at = utcnow()


_LOCKED_KEY = "orders.locked"


def _locked_here() -> dict[str, Order]:
    """Orders this transaction locked outside any savepoint, by reference. Locking one again
    (or looking it up) would only re-read a row nobody else can have changed meanwhile."""
    txn = db.session().get_transaction()
    memo = db.session.info.get(_LOCKED_KEY)
    if txn is None or memo is None or memo[0] is not txn:
        memo = (txn, {})
        if txn is not None:
            db.session.info[_LOCKED_KEY] = memo
    return memo[1]


def _lock(q) -> Order | None:
    order = lock_one(q)
    if order is not None and not db.session().in_nested_transaction():
        _locked_here()[order.reference] = order  # (a lock taken in a savepoint may go with its rollback)
    return order


def _lock_order_by_ref(reference: str) -> Order | None:
    """The order with this reference, locked for the rest of the transaction (None if there is none)."""
    return _locked_here().get(reference) or _lock(select(Order).where(Order.reference == reference))


def _lock_order(order_id: int) -> Order:
    """The order, locked for the rest of the transaction (immediate transaction on SQLite)."""
    order = next((o for o in _locked_here().values() if o.id == order_id), None) \
        or _lock(select(Order).where(Order.id == order_id))
    if order is None:
        raise NotFound()
    return order


def _mail(order: Order, subject, template: str, **context) -> None:
    user = order.user
    if user is not None and user.email:
        queue_mail(user.email, subject, template, order=order,
                   base_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/"), **context)


def _intent(reference: str | None):
    if not reference:
        return None
    return db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))


def _order_by_ref(reference: str) -> Order | None:
    return _locked_here().get(reference) or db.session.scalar(select(Order).where(Order.reference == reference))
