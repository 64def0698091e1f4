"""Checkout: the cart (or a counter's sale) becomes an order.

Invariants:
- All or nothing: the order, its lines (price snapshots), the licence acceptances, the stock and
  seat reservations and the invoice (gapless "INV" number) are written in one transaction, or
  nothing is. The same checkout key returns the same order (a double click meets the unique key).
- Stock and seats are reserved through the catalogue's conditional UPDATEs (never oversold), in a
  fixed order (no deadlock between two checkouts).
- Data is never sold without terms: a product that needs a licence has one, and the customer
  accepted the text they were shown. An order never exceeds `MAX_ORDER_SEN`.
- Printed products are collected at an open counter the customer chose.
"""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..applications import service as applications
from ..audit.service import record
from ..catalog import service as catalog
from ..clock import format_local, utcnow
from ..counters.models import Counter
from ..db import begin_write
from ..errors import Conflict, ValidationError
from ..extensions import db
from ..licensing import service as licensing
from ..money import format_sen
from ..refs import new_reference
from .cancellation import _free_overdue
from .cart import _check_purchase, cart_items
from .common import S
from .documents import _issue_invoice, _mail_invoice
from .models import CartItem, LineStatus, Order, OrderLine

MAX_ORDER_SEN = 2_000_000_000  # RM 20 million: order totals are stored as INTEGER sen (to 2**31 - 1)


def latest_release(product):
    """The newest published version of a product (what a digital line delivers)."""
    versions = [v for v in product.versions if v.published]
    return versions[0] if versions else None


def checkout(user, *, checkout_key: str, accepted: dict[int, str], ip: str | None = None,
             user_agent: str | None = None, collect_counter_id: int | None = None, now=None,
             items: list[CartItem] | None = None) -> Order:
    """Turn the cart into an order: accept licences, reserve stock and seats, issue the invoice.

    `accepted` maps product id -> the licence SHA-256 the customer was shown and ticked.
    `items`: what a counter sells (`counter_items`), instead of the customer's own cart, which
    stays as it is; everything else (prices, stock, seats, invoice, mail) is the same path.
    """
    checkout_key = (checkout_key or "").strip()[:64]
    if not checkout_key:
        raise ValidationError(_l("The form expired. Please try again."))
    begin_write()
    existing = db.session.scalar(select(Order).where(Order.user_id == user.id, Order.checkout_key == checkout_key))
    if existing is not None:
        return existing
    from_cart = items is None
    items = cart_items(user) if from_cart else items
    if not items:
        raise ValidationError(_l("Your cart is empty."))
    now = now or utcnow()
    _expire_overdue_holders(items, now)
    needs_counter = any(i.product.type == "printed" for i in items)
    if needs_counter and not _open_counter(collect_counter_id):
        raise ValidationError(_l("Choose the counter where you will collect your printed products."),
                              field="collect_counter_id")
    if not needs_counter:
        collect_counter_id = None

    order = Order(reference=new_reference("ORD"), user_id=user.id, status=S.PENDING, total_sen=0,
                  checkout_key=checkout_key, collect_counter_id=collect_counter_id, created_at=now,
                  expires_at=now + timedelta(seconds=current_app.config["ORDER_TTL_SECONDS"]), reserved=True)
    try:
        with db.session.begin_nested():  # a double-clicked checkout meets the unique key here
            db.session.add(order)
    except IntegrityError:
        existing = db.session.scalar(select(Order).where(Order.user_id == user.id,
                                                         Order.checkout_key == checkout_key))
        if existing is None:
            raise
        return existing
    total = 0
    for item in sorted(items, key=lambda i: (i.product_id, i.session_id or 0)):  # fixed lock order
        product = item.product
        if product.status != "published":
            raise Conflict(_l("%(name)s is no longer available. Remove it from your cart.", name=product.name))
        _check_purchase(user, product)
        if product.needs_licence and not product.licence_key:
            # Never sell data without terms: a grant could not be issued when the money arrives.
            raise Conflict(_l("%(name)s cannot be sold yet: it has no licence. Please contact us.", name=product.name))
        acceptance = None
        if product.licence_key:
            if product.id not in accepted:
                raise ValidationError(_l("Read and accept the licence for %(name)s.", name=product.name),
                                      field=f"licence_{product.id}")
            acceptance = licensing.accept(user, product, sha256_shown=accepted[product.id], ip=ip,
                                          user_agent=user_agent)
        version = latest_release(product) if product.type == "digital" else None
        if product.type == "digital" and version is None:
            raise Conflict(_l("%(name)s has no release to deliver yet.", name=product.name))
        session_label = None
        if item.session_id:
            ts = item.session
            if ts.cancelled or ts.starts_at <= now:
                raise Conflict(_l("The session of %(name)s is no longer open.", name=product.name))
            catalog.reserve_seat(ts.id)
            session_label = f"{format_local(ts.starts_at)} MYT, {ts.venue}"
        elif product.type == "printed":
            catalog.reserve_stock(product.id, item.quantity)
        # A line bought under an approved application takes its copies (and its remit, if any).
        used = applications.use_copy(user.id, product, item.quantity, order_ref=order.reference)
        line_total = product.price_sen * item.quantity
        remit = used.remit_sen if used else 0
        total += line_total - remit
        order.lines.append(OrderLine(
            product_id=product.id, version_id=version.id if version else None, session_id=item.session_id,
            acceptance_id=acceptance.id if acceptance else None, sku=product.sku, name=product.name,
            name_ms=product.name_ms, product_type=product.type, service_kind=product.service_kind,
            version_label=version.label if version else None, session_label=session_label,
            licence_key=product.licence_key, unit_price_sen=product.price_sen, quantity=item.quantity,
            line_total_sen=line_total, request_note=item.request_note, status=LineStatus.PENDING,
            application_ref=used.reference if used else None, remit_sen=remit))
    if total > MAX_ORDER_SEN:
        raise ValidationError(_l("An order may come to at most %(max)s. Please order fewer items at once.",
                                 max=format_sen(MAX_ORDER_SEN)))
    order.total_sen = total
    db.session.flush()
    invoice = _issue_invoice(order, user, now)
    for item in items if from_cart else ():
        db.session.delete(item)
    record("order.checkout", actor=user, target=order, ip=ip, reference=order.reference, total_sen=total,
           invoice=invoice.number)
    _mail_invoice(order, invoice)
    db.session.flush()
    return order


def _expire_overdue_holders(items, now) -> None:
    """Unpaid orders past their time give back the seats and stock they hold before a new checkout
    asks for them, so the last seat is never held by an order nobody can pay any more, even
    where `flask orders expire` does not run from cron (a laptop's `make run`)."""
    _free_overdue({i.session_id for i in items if i.session_id},
                  {i.product_id for i in items if not i.session_id and i.product.type == "printed"}, now)


def _open_counter(counter_id) -> bool:
    """Is `counter_id` (from a form: anything) a counter that is open for collections?"""
    if isinstance(counter_id, bool) or not isinstance(counter_id, int) or counter_id <= 0:
        return False
    counter = db.session.get(Counter, counter_id)
    return counter is not None and counter.active
