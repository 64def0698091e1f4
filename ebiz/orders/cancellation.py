"""Cancellation, refunds and expiry: an order closes, and what it held goes back.

Invariants:
- Stock and seats are released exactly once (`Order.reserved`): when an unpaid order is
  cancelled or expires, or a paid one is cancelled; approved copies an unpaid order took go back
  to their application.
- Cancelling a paid order refunds what is still outstanding: to the wallet for wallet payments,
  to the staff refund queue for online ones; active grants are revoked and a credit note is
  issued. Lines refunded before (a cancelled training session) are never refunded twice.
- A customer cancels only their own order, and a paid one only before anything in it was
  delivered, collected or started; staff refunding a paid order must be administrators and give
  a reason. Every cancellation and refund is audited in the same transaction.
- Expiry checks the order again under its lock: an order paid or cancelled meanwhile is left alone.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..accounts.models import Role
from ..applications import service as applications
from ..audit.service import record
from ..catalog import service as catalog
from ..catalog.models import TrainingSession
from ..clock import format_local, utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..licensing import service as licensing
from ..licensing.models import LicenceGrant
from ..payments import service as payments
from ..payments.models import RefundReason
from ..wallet import service as wallet
from .common import S, _intent, _lock_order, _mail, transition
from .documents import _credit_note
from .models import LineStatus, Order, OrderLine


def _free_overdue(sessions: set, printed: set, now) -> bool:
    """Expire the overdue unpaid orders holding these sessions' seats or printed products' stock;
    True when there were any."""
    if not sessions and not printed:
        return False
    holds = []
    if sessions:
        holds.append(OrderLine.session_id.in_(sessions))
    if printed:
        holds.append(OrderLine.product_id.in_(printed))
    overdue = db.session.scalars(
        select(Order.id).join(OrderLine).where(Order.status == S.PENDING, Order.reserved.is_(True),
                                               Order.expires_at <= now, or_(*holds))
        .distinct().order_by(Order.id).limit(50)).all()
    for order_id in overdue:
        expire_one(order_id, now)
    return bool(overdue)


def _release(order: Order) -> None:
    if not order.reserved:
        return
    for line in sorted(order.lines, key=lambda ln: (ln.product_id, ln.session_id or 0)):
        if line.session_id:
            catalog.release_seat(line.session_id)
        elif line.product_type == "printed":
            catalog.release_stock(line.product_id, line.quantity)
        if line.application_ref:  # an unpaid order gives back the approved copies it took
            applications.return_copy(order.user_id, line.product_id, line.quantity,
                                     reference=line.application_ref, order_ref=order.reference)
    order.reserved = False


def cancellable_by_customer(order: Order) -> bool:
    if order.status == S.PENDING:
        return True
    if order.status != S.PAID:
        return False
    return _paid_cancellable(order)


def _paid_cancellable(order: Order) -> bool:
    now = utcnow()
    for line in order.lines:
        if line.product_type == "digital":
            return False  # delivered the moment it was paid
        if line.status in (LineStatus.COLLECTED, LineStatus.DELIVERED):
            return False
        if line.session is not None and line.session.starts_at <= now:
            return False
    return True


def cancel(order: Order, *, actor, reason: str = "", ip: str | None = None) -> Order:
    """Cancel an order. Unpaid: release and close. Paid: refund, revoke grants, credit note."""
    own = order.user_id == getattr(actor, "id", None)
    if not own and not getattr(actor, "is_staff", False):
        raise NotFound()
    by_staff = not own  # staff acting on a customer's order; on their own order staff are customers
    order = _lock_order(order.id)
    if by_staff and order.status != S.PENDING:
        # Giving money back is an administrator's decision, always with a reason on record.
        if getattr(actor, "role", None) != Role.ADMIN:
            raise Forbidden(_l("Only an administrator can cancel and refund a paid order."))
        if not (reason or "").strip():
            raise ValidationError(_l("Give the reason for cancelling and refunding this order."), field="reason")
    now = utcnow()
    reason = (reason or "").strip()[:300]  # none given: documents say who cancelled (CreditNote.shown_reason)
    if order.status == S.PENDING:
        transition(order, S.CANCELLED)
        _release(order)
        for line in order.lines:
            line.status, line.status_changed_at = LineStatus.CANCELLED, now
        cn = _credit_note(order, order.total_sen, reason, actor)
        record("order.cancel", actor=actor, target=order, ip=ip, reference=order.reference, reason=reason)
        _mail(order, _l("Order %(ref)s cancelled", ref=order.reference), "orders_closed", credit_note=cn)
        return order
    if order.status not in (S.PAID, S.FULFILLED):
        raise Conflict(_l("This order can no longer be cancelled."))
    if not by_staff and not (order.status == S.PAID and _paid_cancellable(order)):
        raise Conflict(_l("This order can no longer be cancelled: part of it has been delivered, collected "
                          "or has started. Contact support if something is wrong."))
    # Lines refunded before (their training session was cancelled) are not refunded twice.
    outstanding = order.total_sen - (order.refund_sen or 0)
    transition(order, S.REFUNDED)
    # Paid printed stock and seats go back to the shelf (nothing was collected or attended).
    _release_paid(order)
    for grant in db.session.scalars(select(LicenceGrant).where(
            LicenceGrant.order_line_id.in_([ln.id for ln in order.lines]), LicenceGrant.status == "active")):
        licensing.revoke(grant, actor=actor, reason=_staff_reason(f"Order {order.reference} refunded", reason), ip=ip)
    for line in order.lines:
        line.status, line.status_changed_at = LineStatus.CANCELLED, now
    route = _refund_paid(order, outstanding, reason)
    order.refund_route = order.refund_route if route == "none" and order.refund_route else route
    order.refund_sen = order.total_sen
    cn = _credit_note(order, outstanding, reason, actor)
    record("order.refund", actor=actor, target=order, ip=ip, reference=order.reference, reason=reason,
           route=route, amount_sen=outstanding)
    _mail(order, _l("Order %(ref)s cancelled and refunded", ref=order.reference), "orders_closed", credit_note=cn)
    return order


def cancel_training_session(session_id: int, *, actor, ip: str | None = None) -> list[str]:
    """An administrator cancels a scheduled training session, and nobody pays for a seat that is
    gone: every unpaid order holding one of its seats is cancelled; a paid one is refunded (in
    full when the session was all it held, else those lines, with a credit note for them).
    Returns the references of the orders touched."""
    if getattr(actor, "role", None) != Role.ADMIN:
        raise Forbidden()
    ts = db.session.get(TrainingSession, session_id)
    if ts is None:
        raise NotFound()
    # The flag first: its row lock makes a concurrent checkout's seat reservation wait, then fail;
    # a checkout that reserved before us has committed when our UPDATE returns, so the scan sees it.
    catalog.cancel_session(session_id, actor=actor, ip=ip)
    when = format_local(ts.starts_at)
    reason = str(_l("The training session of %(when)s MYT was cancelled.", when=when))
    order_ids = db.session.scalars(
        select(OrderLine.order_id).join(Order).where(OrderLine.session_id == session_id,
                                                   Order.status.in_([S.PENDING, S.PAID]))
        .distinct().order_by(OrderLine.order_id)).all()
    touched = []
    for order_id in order_ids:
        order = _lock_order(order_id)
        lines = [ln for ln in order.lines if ln.session_id == session_id and ln.status != LineStatus.CANCELLED]
        if not lines or order.status not in (S.PENDING, S.PAID):
            continue
        if order.status == S.PENDING or len(lines) == sum(ln.status != LineStatus.CANCELLED for ln in order.lines):
            cancel(order, actor=actor, reason=reason, ip=ip)
        else:
            _refund_lines(order, lines, reason=reason, actor=actor, ip=ip)
        touched.append(order.reference)
    return touched


def change_training_session(session_id: int, *, actor, ip: str | None = None, **details) -> tuple[list[str], int]:
    """An administrator changes a session (time, venue, seats; see `catalog.service.edit_session`).
    When its time or place changed, every customer holding a seat in it (unpaid or paid) is told
    by mail. Returns the names of the fields changed and the number of customers told."""
    if getattr(actor, "role", None) != Role.ADMIN:
        raise Forbidden()
    ts, changed = catalog.edit_session(session_id, actor=actor, ip=ip, **details)
    if not {"starts_at", "ends_at", "venue", "online"} & set(changed):
        return changed, 0
    orders = db.session.scalars(
        select(Order).join(OrderLine).where(OrderLine.session_id == session_id,
                                            OrderLine.status != LineStatus.CANCELLED,
                                            Order.status.in_([S.PENDING, S.PAID]))
        .distinct().order_by(Order.id)).all()
    for order in orders:
        _mail(order, _l("Your training session has changed (order %(ref)s)", ref=order.reference),
              "orders_session_changed", session=ts)
    return changed, len(orders)


def _refund_lines(order: Order, lines: list, *, reason: str, actor, ip: str | None) -> None:
    """Refund some lines of a paid order (the rest stays paid): seats back, money back, a credit note."""
    now, amount = utcnow(), sum(ln.line_total_sen - ln.remit_sen for ln in lines)
    for line in sorted(lines, key=lambda ln: (ln.product_id, ln.session_id or 0)):
        if line.session_id:
            catalog.release_seat(line.session_id)
        line.status, line.status_changed_at = LineStatus.CANCELLED, now
    key = f"lines-cancel:{order.reference}:{min(ln.id for ln in lines)}"
    route = "none"
    if amount and order.payment_method == "wallet":
        wallet.refund_to_wallet(order.user, amount, idempotency_key=key, memo=order.reference)
        route = "wallet"
    elif amount and order.payment_method not in (None, "free"):
        payments.queue_refund(_intent(order.payment_ref), amount, RefundReason.ORDER_CANCELLED,
                              _staff_reason(order.reference, reason), key=key)
        route = "staff"
    order.refund_sen = (order.refund_sen or 0) + amount
    order.refund_route = order.refund_route or (route if route != "none" else None)
    cn = _credit_note(order, amount, reason, actor)
    record("order.lines_refund", actor=actor, target=order, ip=ip, reference=order.reference, reason=reason,
           route=route, amount_sen=amount, lines=[ln.id for ln in lines])
    _mail(order, _l("Part of order %(ref)s cancelled and refunded", ref=order.reference), "orders_lines_refunded",
          lines=lines, amount_sen=amount, route=route, credit_note=cn, reason=reason)


def _release_paid(order: Order) -> None:
    for line in sorted(order.lines, key=lambda ln: (ln.product_id, ln.session_id or 0)):
        if line.status in (LineStatus.COLLECTED, LineStatus.DELIVERED, LineStatus.CANCELLED):
            continue
        if line.session_id:
            catalog.release_seat(line.session_id)
        elif line.product_type == "printed":
            catalog.release_stock(line.product_id, line.quantity)
    order.reserved = False


def _staff_reason(what: str, reason: str) -> str:
    """A note for staff queues and records: what happened, and the reason when one was given."""
    return f"{what}: {reason}" if reason else what


def _refund_paid(order: Order, amount_sen: int, reason: str) -> str:
    """Give `amount_sen` of a paid order back the way it came; returns the route."""
    if amount_sen <= 0 or order.payment_method == "free":
        return "none"
    if order.payment_method == "wallet":
        wallet.refund_to_wallet(order.user, amount_sen, idempotency_key=f"order-cancel:{order.reference}",
                                memo=order.reference)
        return "wallet"
    intent = _intent(order.payment_ref)
    payments.queue_refund(intent, amount_sen, RefundReason.ORDER_CANCELLED, _staff_reason(order.reference, reason),
                          key=f"order-cancel:{order.reference}")
    return "staff"


def expire_candidates(now=None, limit: int = 500) -> list[int]:
    now = now or utcnow()
    return list(db.session.scalars(select(Order.id).where(Order.status == S.PENDING, Order.expires_at <= now)
                                   .order_by(Order.id).limit(limit)))


def expire_one(order_id: int, now=None) -> str | None:
    """Expire one unpaid order past its time: release seats and stock, credit the invoice.

    Returns its reference, or None when it was paid or cancelled meanwhile (checked under the lock).
    """
    now = now or utcnow()
    order = _lock_order(order_id)
    if order.status != S.PENDING or order.expires_at > now:
        return None
    transition(order, S.EXPIRED)
    _release(order)
    for line in order.lines:
        line.status, line.status_changed_at = LineStatus.CANCELLED, now
    cn = _credit_note(order, order.total_sen, "", None)
    record("order.expire", actor=None, target=order, reference=order.reference)
    _mail(order, _l("Order %(ref)s expired", ref=order.reference), "orders_closed", credit_note=cn)
    return order.reference


def expire_due(now=None, limit: int = 500) -> list[str]:
    """Expire every overdue unpaid order (in the caller's transaction). Returns the references."""
    done = [expire_one(oid, now) for oid in expire_candidates(now, limit)]
    return [ref for ref in done if ref]
