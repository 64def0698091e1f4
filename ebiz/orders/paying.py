"""Paying for an order: online, from the wallet, at a counter, or nothing when it is free.

Invariants:
- Only the customer's own pending, unexpired order whose contents they may still buy is paid
  (`_not_payable`, checked under the order's lock). Online and from the wallet, never a second
  payment while one may still be in flight (`IN_FLIGHT_TEXT`); the same key finds its own again.
- A free order (RM 0.00) is paid without a payment, with a receipt number of its own.
- An order becomes paid once (`_mark_paid`): the reservation becomes a sale, every line is paid,
  licence grants and download entitlements are issued in the same transaction.
"""

from flask_babel import lazy_gettext as _l

from ..applications import service as applications
from ..audit.service import record
from ..catalog import service as catalog
from ..catalog.models import Product, TrainingSession
from ..clock import utcnow
from ..delivery import service as delivery
from ..errors import Conflict, NotFound, TierRequired, ValidationError
from ..extensions import db
from ..licensing import service as licensing
from ..licensing.models import LicenceAcceptance
from ..payments import service as payments
from ..sequences import next_number
from .common import S, _lock_order, _mail, transition
from .fulfilment import _maybe_fulfil
from .models import LineStatus, Order
from .queries import grants_by_line

PAYMENT_METHODS = ("wallet", "fpx", "card")
COUNTER_PAYMENT_METHODS = ("cash", "terminal", "wallet")
IN_FLIGHT_TEXT = _l("A payment for this order may still be in progress: your bank may have taken the money, "
                    "and we are checking. You can pay again only once we know that payment did not go through.")


def pay(user, order: Order, *, method: str, idempotency_key: str, bank_code: str | None = None):
    """Start paying `order`. Returns (intent, url): url is None when paid already (wallet)."""
    if order.user_id != user.id:
        raise NotFound()
    if method not in PAYMENT_METHODS:
        raise ValidationError(_l("Choose how to pay."), field="method")
    if method == "wallet" and not user.is_primary:
        raise TierRequired(_l("Only Primary customers hold a wallet. Verify your identity at any eBiz counter "
                              "to upgrade."), field="method")
    order = _lock_order(order.id)
    if (why := _not_payable(order, user)) is not None:
        raise Conflict(why)
    # Never a second payment while one may still be in flight (the bank may have taken the money and
    # its answer be lost): the order page asks the gateway first. The same form sent twice (the same
    # key) finds its own payment again below.
    key = (idempotency_key or "").strip()
    if any(i.idempotency_key != key or i.user_id != user.id for i in payments.in_flight("order", order.reference)):
        raise Conflict(IN_FLIGHT_TEXT)
    if order.total_sen == 0:  # free (e.g. a sponsored training): nothing to collect
        _mark_paid(order, method="free", payment_ref=None, now=utcnow())
        return None, None
    intent = payments.create_intent(user, kind="order", payable_ref=order.reference, amount_sen=order.total_sen,
                                    method=method, bank_code=bank_code, idempotency_key=idempotency_key)
    if method == "wallet":
        payments.pay_with_wallet(intent)  # settle_order records the payment on the order (one UPDATE)
        return intent, None
    order.payment_ref, order.payment_method = intent.reference, method
    return intent, payments.start_online(intent)


def pay_at_counter(user, order: Order, *, method: str, idempotency_key: str, counter_code: str, counter_name: str,
                   approval_code: str | None = None):
    """Pay `order` at a counter now: cash, the counter's card terminal, or the wallet (Primary only).
    The same intent, settlement, receipt and mail as online; the receipt names the counter."""
    if order.user_id != user.id:
        raise NotFound()
    if method not in COUNTER_PAYMENT_METHODS:
        raise ValidationError(_l("Choose how to pay."), field="method")
    if method == "wallet" and not user.is_primary:
        raise TierRequired(_l("Only Primary customers hold a wallet."), field="method")
    order = _lock_order(order.id)
    if (why := _not_payable(order, user)) is not None:
        raise Conflict(why)
    if order.total_sen == 0:
        _mark_paid(order, method="free", payment_ref=None, now=utcnow())
        return None
    intent = payments.create_intent(user, kind="order", payable_ref=order.reference, amount_sen=order.total_sen,
                                    method=method, idempotency_key=idempotency_key)
    return payments.pay_at_counter(intent, counter_code=counter_code, counter_name=counter_name,
                                   approval_code=approval_code)


def _not_payable(order: Order, user):
    """Why `order` cannot be paid now (pending, unexpired, still the customer's to buy), or None."""
    if order.status != S.PENDING:
        return _l("This order is not awaiting payment.")
    if order.expires_at <= utcnow():
        return _l("This order has expired. Its seats and stock were released; please order again.")
    return unbuyable(order, user)


def unbuyable(order: Order, user):
    """Why the customer may no longer buy what the order holds (checked again when paying, as the
    order waits up to ORDER_TTL_SECONDS): a product withdrawn or no longer theirs to buy (say their
    restricted access was revoked), or a training session cancelled or started. None when all is well."""
    now = utcnow()
    for line in order.lines:
        if line.status == LineStatus.CANCELLED:
            continue
        ok, why = catalog.may_purchase(user, db.session.get(Product, line.product_id))
        if not ok:
            return why
        if line.session_id is not None:
            ts = db.session.get(TrainingSession, line.session_id)
            if ts is None or ts.cancelled or ts.starts_at <= now:
                return _l("A training session in this order has started or was cancelled: it can no longer be "
                          "paid for. Please cancel this order and choose another session.")
    return None


def _mark_paid(order: Order, *, method: str, payment_ref: str | None, now) -> None:
    transition(order, S.PAID)
    order.paid_at = now
    order.payment_ref, order.payment_method = payment_ref, method
    order.reserved = False  # the reservation became a sale
    if method == "free":  # nothing was paid, yet the customer gets an RM 0.00 receipt
        order.receipt_no = next_number("RCP")
    _deliver_paid_lines(order, now)
    record("order.paid", actor=order.user_id, target=order, reference=order.reference,
           payment=payment_ref, method=method)
    _maybe_fulfil(order, now)
    grants = grants_by_line(order) if any(_needs_grant(ln) for ln in order.lines) else {}
    _mail(order, _l("Order %(ref)s is paid", ref=order.reference), "orders_paid", grants=grants)


def _needs_grant(line) -> bool:
    return line.product_type == "digital" or (line.product_type == "service" and line.service_kind == "extraction")


def _deliver_paid_lines(order: Order, now) -> None:
    for line in order.lines:
        line.status, line.status_changed_at = LineStatus.PAID, now
        if not _needs_grant(line):
            continue
        product = db.session.get(Product, line.product_id)
        acceptance = db.session.get(LicenceAcceptance, line.acceptance_id) if line.acceptance_id else None
        terms = applications.approval_terms(line.application_ref)
        grant = licensing.issue_grant(user_id=order.user_id, product=product, version_id=line.version_id,
                                      order_line_id=line.id, acceptance=acceptance, start=now,
                                      application_ref=terms[0] if terms else None,
                                      conditions=terms[1] if terms else None)
        if line.product_type == "digital":
            delivery.grant_entitlement(grant)
            line.status = LineStatus.DELIVERED
