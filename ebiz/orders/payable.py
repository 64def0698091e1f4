"""Orders as a payable of the payments domain: what payments calls back (settle, describe, check,
return URL, was the money kept), registered in `create_app` through `register_with_payments`.

Invariants:
- `settle_order(intent)` runs once per succeeded payment, in the payment's transaction: it posts
  the ledger (`wallet.service.collect`) and marks the order paid (see `paying`).
- Money received is never dropped: when the order can no longer take it (missing, cancelled,
  expired, paid by another payment, no longer the customer's to buy) it goes back to the wallet
  or onto the staff refund queue, and the customer is told by mail and on the order page.
- Payments knows nothing of orders: this module calls payments, never the other way.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..audit.service import record
from ..clock import utcnow
from ..extensions import db
from ..payments import service as payments
from ..payments.models import RefundReason
from ..wallet import service as wallet
from .common import S, _lock_order_by_ref, _mail, _order_by_ref
from .models import Order
from .paying import _mark_paid, _not_payable, unbuyable


def settle_order(intent) -> None:
    """Payments' settle handler for kind "order" (called once, in the payment's transaction)."""
    order = _lock_order_by_ref(intent.payable_ref)  # one statement: find and lock
    wallet.collect(intent)  # the money is ours now, whatever happens to the order
    if order is None:
        _refund_undeliverable(intent, None, RefundReason.ORDER_MISSING)
        return
    if order.status != S.PENDING or intent.amount_sen != order.total_sen or \
            (intent.is_online and unbuyable(order, intent.user) is not None):  # (a wallet payment checked it)
        # Cancelled, expired, already paid by another intent, or no longer the customer's to buy:
        # never drop the money.
        _refund_undeliverable(intent, order, RefundReason.ORDER_UNPAYABLE)
        return
    _mark_paid(order, method=intent.method, payment_ref=intent.reference, now=utcnow())
    # The order's other payments that never reached the bank are abandoned, not "pending" beside this one.
    payments.close_unstarted("order", order.reference, paid_by=intent.reference)


def _refund_undeliverable(intent, order: Order | None, reason_code: str) -> None:
    """Money came for an order that cannot take it: return it (wallet or refund queue) and tell the
    customer, by email here and on the order page (`returned_payments`)."""
    ref = order.reference if order else intent.payable_ref
    detail = f"{ref} ({order.status})" if order else ref
    route = wallet.return_payment(intent, reason_code, detail)
    route = "wallet" if route == "wallet" else "staff"
    if order is not None and order.refund_route is None and order.status in (S.CANCELLED, S.EXPIRED):
        order.refund_route, order.refund_sen = route, intent.amount_sen
    record("order.payment_returned", actor=None, target_type="Order", target_id=order.id if order else None,
           reference=ref, payment=intent.reference, route=route, reason=reason_code,
           order_status=order.status if order else None)
    if order is not None:
        _mail(order, _l("Your payment %(payment)s for order %(ref)s is being returned", payment=intent.reference,
                        ref=order.reference), "orders_payment_returned", intent=intent, route=route,
              refund=payments.refund_of(intent) if route == "staff" else None, why=returned_why(order))


def returned_why(order: Order):
    """Why money that came for `order` was not kept (for the mail and the order page)."""
    if order.status in (S.PAID, S.FULFILLED, S.REFUNDED):
        return _l("the order had already been paid by another payment")
    if order.status == S.CANCELLED:
        return _l("the order had been cancelled")
    if order.status == S.EXPIRED:
        return _l("the order had expired")
    return _l("what the order holds could no longer be bought")


def returned_payments(order: Order) -> list:
    """The payments for `order` it did not keep (paid twice; paid after it closed), each with its
    refund-queue entry or None (returned to the wallet): oldest first."""
    return payments.returned_payments("order", order.reference, kept=order.payment_ref if order.paid_at else None)


def describe_order(intent) -> str:
    """Text for the payment receipt and history: the order reference and its lines."""
    return _order_text(intent, _order_by_ref(intent.payable_ref))


def describe_orders(intents) -> dict[int, str]:
    """`describe_order` for a page of intents, by intent id: two queries (orders, lines) for any number."""
    refs = sorted({i.payable_ref for i in intents})
    orders = {o.reference: o for o in db.session.scalars(
        select(Order).where(Order.reference.in_(refs)).options(selectinload(Order.lines)))} if refs else {}
    return {i.id: _order_text(i, orders.get(i.payable_ref)) for i in intents}


def _order_text(intent, order: Order | None) -> str:
    if order is None:
        return str(_l("Order %(ref)s", ref=intent.payable_ref))
    lines = "; ".join(f"{ln.quantity} × {ln.name}" + (f" ({ln.version_label})" if ln.version_label else "")
                      for ln in order.lines)
    return str(_l("Order %(ref)s: %(lines)s", ref=order.reference, lines=lines))


def order_kept(intent) -> bool:
    """Payments asks: was this succeeded payment's money kept by its order (else it went back)?"""
    order = _order_by_ref(intent.payable_ref)
    return order is not None and order.paid_at is not None and order.payment_ref == intent.reference


def order_return_url(intent) -> str:
    return f"/orders/{intent.payable_ref}"


def order_unpayable(intent):
    """Payments' check before sending the customer to the gateway: the order still awaits this payment."""
    order = _order_by_ref(intent.payable_ref)
    if order is None or intent.amount_sen != order.total_sen:
        return _l("This order is not awaiting payment.")
    return _not_payable(order, intent.user)


def register_with_payments() -> None:
    payments.register_payable("order", settle=settle_order, describe=describe_order, return_url=order_return_url,
                              describe_many=describe_orders, unpayable=order_unpayable, kept=order_kept)
