"""Fulfilment: staff make printed lines ready and hand them over, attach the files of on-demand
services; a paid order whose every line is delivered (or whose training has ended) is fulfilled.

Invariants:
- Only a paid order's lines move, and only forward (`STAFF_LINE_MOVES`; a file may be attached
  again to a delivered line, also once the order is fulfilled), under the order's lock; each move
  is audited.
- A counter hands over only a ready printed line of that customer's order, collectable there.
- An order becomes fulfilled once, when nothing active in it is left to deliver; an order with
  every line cancelled is a refund, never a fulfilment.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from ..audit.service import record
from ..clock import utcnow
from ..delivery import service as delivery
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..licensing.models import LicenceGrant
from .common import S, _lock_order, _mail, transition
from .models import LineStatus, Order, OrderLine

STAFF_LINE_MOVES = {
    LineStatus.READY: (LineStatus.PAID,),
    LineStatus.COLLECTED: (LineStatus.READY, LineStatus.PAID),
}


def mark_line(line_id: int, to: str, *, actor, ip: str | None = None) -> OrderLine:
    """Staff: a printed line becomes ready for collection, then collected."""
    line = db.session.get(OrderLine, line_id)
    if line is None:
        raise NotFound()
    order = _lock_order(line.order_id)
    if line.product_type != "printed" or to not in STAFF_LINE_MOVES:
        raise ValidationError(_l("Only printed products are marked ready or collected."))
    if order.status != S.PAID or line.status not in STAFF_LINE_MOVES[to]:
        raise Conflict(_l("This line cannot be marked ready for collection now.") if to == LineStatus.READY
                       else _l("This line cannot be marked collected now."))
    old = line.status
    line.status, line.status_changed_at = to, utcnow()
    record("order.line_" + to, actor=actor, target=line, ip=ip, reference=order.reference, previous=old)
    if to == LineStatus.READY:
        _mail(order, _l("Order %(ref)s is ready for collection", ref=order.reference), "orders_ready",
              line=line, counter=order.collect_counter)
    _maybe_fulfil(order, utcnow())
    return line


def attach_deliverable(line_id: int, fileobj, filename: str, *, actor, ip: str | None = None):
    """Staff: attach a file to a paid on-demand service line (stored by delivery); the line is delivered."""
    line = db.session.get(OrderLine, line_id)
    if line is None:
        raise NotFound()
    order = _lock_order(line.order_id)
    if not (line.product_type == "service" and line.service_kind == "extraction"):
        raise ValidationError(_l("Files are attached only to on-demand service lines."))
    if order.status not in (S.PAID, S.FULFILLED) or line.status not in (LineStatus.PAID, LineStatus.DELIVERED):
        raise Conflict(_l("This order is not paid, so nothing can be delivered."))
    grant = db.session.scalar(select(LicenceGrant).where(LicenceGrant.order_line_id == line.id))
    if grant is None:
        raise Conflict(_l("This line has no licence grant."))
    result = delivery.attach_deliverable(line.id, grant, fileobj, filename, actor)
    line.status, line.status_changed_at = LineStatus.DELIVERED, utcnow()
    record("order.deliverable_attached", actor=actor, target=line, ip=ip, reference=order.reference,
           filename=filename)
    _maybe_fulfil(order, utcnow())
    return result


def _maybe_fulfil(order: Order, now) -> None:
    active = [ln for ln in order.lines if ln.status != LineStatus.CANCELLED]
    if order.status != S.PAID or not active:  # nothing left to deliver is a refund, not a fulfilment
        return
    for line in active:
        if line.status in (LineStatus.COLLECTED, LineStatus.DELIVERED):
            continue
        if line.session is not None and line.session.ends_at <= now:
            continue
        return
    transition(order, S.FULFILLED)
    record("order.fulfilled", actor=None, target=order, reference=order.reference)


def fulfil_candidates() -> list[int]:
    """Paid orders with training lines (they become fulfilled once their sessions have ended)."""
    return list(db.session.scalars(select(Order.id).join(OrderLine).where(
        Order.status == S.PAID, OrderLine.session_id.is_not(None)).distinct()))


def fulfil_one(order_id: int, now=None) -> bool:
    order = _lock_order(order_id)
    _maybe_fulfil(order, now or utcnow())
    return order.status == S.FULFILLED


def staff_queue(kind: str | None = None):
    """Paid lines waiting for staff: printed (to ready/collect) and on-demand services (to deliver)."""
    q = select(OrderLine).join(Order).where(
        Order.status == S.PAID, OrderLine.status.in_((LineStatus.PAID, LineStatus.READY)),
        OrderLine.product_type.in_(("printed", "service")),
        (OrderLine.product_type == "printed") | (OrderLine.service_kind == "extraction"))
    if kind == "printed":
        q = q.where(OrderLine.product_type == "printed")
    elif kind == "service":
        q = q.where(OrderLine.product_type == "service")
    return q.order_by(Order.paid_at, OrderLine.id)


def ready_for_collection(user_id: int, counter_id: int) -> list[OrderLine]:
    """The customer's printed lines ready for collection at this counter, each with its order."""
    return list(db.session.scalars(
        select(OrderLine).join(Order).where(Order.user_id == user_id, Order.collect_counter_id == counter_id,
                                            Order.status == S.PAID, OrderLine.status == LineStatus.READY,
                                            OrderLine.product_type == "printed")
        .options(contains_eager(OrderLine.order)).order_by(Order.paid_at, OrderLine.id)))


def hand_over(line_id: int, *, user_id: int, counter_id: int, actor, ip: str | None = None) -> OrderLine:
    """A ready printed line of `user_id`'s order, collectable at `counter_id`, is handed over (collected)."""
    line = db.session.get(OrderLine, line_id) if isinstance(line_id, int) else None
    order = _lock_order(line.order_id) if line is not None else None
    if order is None or order.user_id != user_id or order.collect_counter_id != counter_id \
            or line.product_type != "printed":
        raise NotFound(_l("This order is not waiting for collection here."))
    if order.status != S.PAID or line.status != LineStatus.READY:
        raise Conflict(_l("This line is not ready for collection (collected already, or not ready yet)."))
    return mark_line(line.id, LineStatus.COLLECTED, actor=actor, ip=ip)
