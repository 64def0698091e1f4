"""Cart, checkout, orders, invoices, credit notes, payment settlement, cancellation and expiry.

Invariants:
- Status changes go through `transition`, which allows only `TRANSITIONS`;
  anything else is a Conflict (a repeated or stale request says so out loud).
- Checkout is all-or-nothing: the order, its lines (price snapshots), the
  licence acceptances, the stock/seat reservations and the invoice (gapless
  "INV" number) are written in one transaction, or nothing is. The same
  checkout key returns the same order.
- Stock and seats are reserved through the catalogue's conditional UPDATEs
  (never oversold) and released exactly once (`Order.reserved`), when an
  unpaid order is cancelled or expires, or a paid one is cancelled.
- `settle_order(intent)` runs once per succeeded payment, in the payment's
  transaction: it posts the ledger (`wallet.service.collect`), marks the order
  paid, issues licence grants and download entitlements. When the order can
  no longer be delivered (cancelled or expired) the money goes back to the
  wallet, or onto the staff refund queue: money received is never dropped.
- Cancelling a paid order refunds the total: to the wallet for wallet
  payments, to the staff refund queue for online ones; grants are revoked and
  a credit note ("CN") is issued. Issued invoices never change.
- Every lookup for a customer goes through `order_for_owner` (reference plus
  ownership; staff see all).
"""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..accounts.models import Role
from ..applications import service as applications
from ..audit.service import record
from ..catalog import service as catalog
from ..catalog.models import Product, TrainingSession
from ..catalog.service import may_purchase
from ..clock import format_local, utcnow
from ..counter.models import Counter
from ..delivery import service as delivery
from ..errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ..extensions import begin_write, db, is_sqlite
from ..licensing import service as licensing
from ..licensing.models import LicenceAcceptance, LicenceGrant
from ..money import format_sen
from ..notifications.service import queue_mail
from ..payments import service as payments
from ..payments.models import PaymentIntent, RefundReason
from ..payments.service import pending_text
from ..refs import new_reference
from ..sequences import next_number
from ..wallet import service as wallet
from .models import REQUEST_MAX, CartItem, CreditNote, Invoice, LineStatus, Order, OrderLine, OrderStatus

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.FULFILLED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}

# "My orders" filter by payment status: name -> statuses.
PAYMENT_FILTERS: dict[str, tuple[str, ...]] = {
    "awaiting": (S.PENDING,),
    "successful": (S.PAID, S.FULFILLED),
    "refunded": (S.REFUNDED,),
    "closed": (S.CANCELLED, S.EXPIRED),
}

MAX_QUANTITY = 99
MAX_ORDER_SEN = 2_000_000_000  # RM 20 million: order totals are stored as INTEGER sen (to 2**31 - 1)
PAYMENT_METHODS = ("wallet", "fpx", "card")
COUNTER_PAYMENT_METHODS = ("cash", "terminal", "wallet")

# Why an order cannot change, one whole sentence per status it is in (word order differs by language).
NO_TRANSITION = {
    S.PENDING: _l("This order is still awaiting payment, so it cannot change this way."),
    S.PAID: _l("This order is already paid, so it cannot change this way."),
    S.FULFILLED: _l("This order is already fulfilled, so it cannot change this way."),
    S.CANCELLED: _l("This order is cancelled and can no longer change."),
    S.EXPIRED: _l("This order has expired and can no longer change."),
    S.REFUNDED: _l("This order has been refunded and can no longer change."),
}


# Orders kept elsewhere (the old system's, ebiz/migration/) shown read-only in "My orders": a domain
# above this one registers a function user -> list of rows at app setup.
_HISTORY_SOURCES: list = []


def register_history_source(fn) -> None:
    if fn not in _HISTORY_SOURCES:
        _HISTORY_SOURCES.append(fn)


def history_elsewhere(user) -> list:
    return [row for fn in _HISTORY_SOURCES for row in fn(user)]


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
    begin_write()
    if not is_sqlite():
        q = q.with_for_update()
    order = db.session.execute(q.execution_options(populate_existing=True)).scalar_one_or_none()
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


# ---------------------------------------------------------------- purchase rules

def purchase_problem(user, product) -> str | None:
    """Why `user` may not buy `product` now (translated text), or None."""
    ok, reason = may_purchase(user, product)
    if not ok:
        return str(reason or TierRequired.default_message)
    return None


def _check_purchase(user, product) -> None:
    problem = purchase_problem(user, product)
    if problem:
        err = TierRequired if (product.type == "digital" or product.needs_licence) and not user.is_primary \
            else Forbidden
        raise err(problem, field="product")


# ---------------------------------------------------------------- cart

def cart_items(user) -> list[CartItem]:
    return list(db.session.scalars(
        select(CartItem).where(CartItem.user_id == user.id).order_by(CartItem.id)))


def cart_count(user) -> int:
    return db.session.scalar(select(func.count(CartItem.id)).where(CartItem.user_id == user.id)) or 0


def add_to_cart(user, product_id: int, *, session_id: int | None = None, quantity: int = 1,
                request_note: str | None = None) -> CartItem:
    """Put a product in the cart. An on-demand service (an extraction) needs `request_note`:
    what to deliver (area, layers, format, the project it is for)."""
    product = db.session.get(Product, product_id)
    if product is None or product.status != "published":
        raise NotFound(_l("This product is not available."))
    _check_purchase(user, product)
    applications.check_copies(user.id, product)
    if not 1 <= int(quantity) <= MAX_QUANTITY:
        raise ValidationError(_l("Choose a quantity between 1 and %(n)s.", n=MAX_QUANTITY), field="quantity")
    is_training = product.type == "service" and product.service_kind == "training"
    if is_training:
        ts = db.session.get(TrainingSession, session_id) if session_id else None
        if ts is None or ts.product_id != product.id or ts.cancelled:
            raise ValidationError(_l("Choose a training session."), field="session_id")
        if ts.starts_at <= utcnow():
            raise ValidationError(_l("This session has already started."), field="session_id")
        if ts.seats_left <= 0 and not (_free_overdue({ts.id}, set(), utcnow()) and ts.seats_left > 0):
            raise Conflict(_l("This session is full."), field="session_id")
        quantity = 1  # one seat per registration
    else:
        session_id = None
    note = " ".join((request_note or "").split()) if product.service_kind == "extraction" else ""
    if product.service_kind == "extraction" and not note:
        raise ValidationError(_l("Describe what we should extract: the area, the layers, the format and the "
                                 "project it is for."), field="request_note")
    if len(note) > REQUEST_MAX:
        raise ValidationError(_l("Keep the request under %(n)s characters.", n=REQUEST_MAX), field="request_note")
    if product.type != "printed":
        quantity = 1  # a licence or a service is bought once
    elif product.stock is not None and product.stock < quantity and not (
            _free_overdue(set(), {product.id}, utcnow()) and product.stock >= quantity):
        raise Conflict(_l("Only %(n)s left in stock.", n=product.stock), field="quantity")
    item = db.session.scalar(select(CartItem).where(
        CartItem.user_id == user.id, CartItem.product_id == product.id,
        CartItem.session_id.is_(None) if session_id is None else CartItem.session_id == session_id))
    if item is None:
        item = CartItem(user_id=user.id, product_id=product.id, session_id=session_id, quantity=quantity,
                        request_note=note or None)
        db.session.add(item)
    elif product.type == "printed":
        item.quantity = min(MAX_QUANTITY, item.quantity + quantity)
    elif note:
        item.request_note = note  # asked again: the latest request stands
    db.session.flush()
    return item


def add_approved_to_cart(user, application_token: str) -> list[CartItem]:
    """The priced checkout of an approval: put exactly its approved items (the copies left) into the
    applicant's cart; checkout then takes the copies and applies the approved remit."""
    items = []
    for product, left in applications.checkout_items(application_token, user):
        if product.type == "printed":
            existing = db.session.scalar(select(CartItem).where(CartItem.user_id == user.id,
                                                                CartItem.product_id == product.id))
            left -= existing.quantity if existing else 0
        if left > 0:
            items.append(add_to_cart(user, product.id, quantity=min(left, MAX_QUANTITY)))
    return items


def cart_remits(user, items) -> dict[int, tuple[str, int]]:
    """Cart item id -> (application reference, remit in sen) that checkout will apply."""
    out = {}
    for item in items:
        preview = applications.remit_preview(user.id, item.product, item.quantity)
        if preview and preview[1]:
            out[item.id] = preview
    return out


def update_cart_item(user, item_id: int, quantity: int) -> CartItem | None:
    item = db.session.get(CartItem, item_id)
    if item is None or item.user_id != user.id:
        raise NotFound()
    if quantity <= 0:
        db.session.delete(item)
        db.session.flush()
        return None
    if item.product.type != "printed":
        raise ValidationError(_l("Only printed products are bought in quantity."), field="quantity")
    if quantity > MAX_QUANTITY:
        raise ValidationError(_l("Choose a quantity between 1 and %(n)s.", n=MAX_QUANTITY), field="quantity")
    item.quantity = quantity
    db.session.flush()
    return item


def remove_from_cart(user, item_id: int) -> None:
    update_cart_item(user, item_id, 0)


# ---------------------------------------------------------------- checkout

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


def counter_items(user, wanted: list[tuple[int, int | None, int]]) -> list[CartItem]:
    """What a counter sells, as cart lines that are never stored: (product id, training session id,
    quantity) each, checked as `add_to_cart` checks them. Only printed products and training seats
    are sold at a counter."""
    items: dict[tuple[int, int | None], CartItem] = {}
    for product_id, session_id, quantity in wanted:
        product = db.session.get(Product, product_id) if isinstance(product_id, int) else None
        if product is None or product.status != "published":
            raise NotFound(_l("This product is not available."), field="product")
        if not (product.type == "printed" or (product.type == "service" and product.service_kind == "training")):
            raise ValidationError(_l("Only printed products and training seats are sold at the counter."),
                                  field="product")
        _check_purchase(user, product)
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise ValidationError(_l("Choose a quantity between 1 and %(n)s.", n=MAX_QUANTITY), field="quantity")
        ts = None
        if product.type == "service":
            ts = db.session.get(TrainingSession, session_id) if isinstance(session_id, int) else None
            if ts is None or ts.product_id != product.id or ts.cancelled or ts.starts_at <= utcnow():
                raise ValidationError(_l("Choose a training session."), field="session_id")
            quantity = 1
        key = (product.id, ts.id if ts else None)
        if key in items:
            items[key].quantity = min(MAX_QUANTITY, items[key].quantity + (quantity if ts is None else 0))
        else:
            items[key] = CartItem(user_id=user.id, product_id=product.id, product=product,
                                  session_id=ts.id if ts else None, session=ts, quantity=quantity)
    return list(items.values())


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


def _expire_overdue_holders(items, now) -> None:
    """Unpaid orders past their time give back the seats and stock they hold before a new checkout
    asks for them, so the last seat is never held by an order nobody can pay any more, even
    where `flask orders expire` does not run from cron (a laptop's `make run`)."""
    _free_overdue({i.session_id for i in items if i.session_id},
                  {i.product_id for i in items if not i.session_id and i.product.type == "printed"}, now)


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


def _open_counter(counter_id) -> bool:
    """Is `counter_id` (from a form: anything) a counter that is open for collections?"""
    if isinstance(counter_id, bool) or not isinstance(counter_id, int) or counter_id <= 0:
        return False
    counter = db.session.get(Counter, counter_id)
    return counter is not None and counter.active


def _issue_invoice(order: Order, user, now) -> Invoice:
    lines = []
    for ln in order.lines:
        lines.append({"sku": ln.sku, "name": ln.name, "name_ms": ln.name_ms, "version": ln.version_label,
                      "session": ln.session_label, "quantity": ln.quantity, "unit_price_sen": ln.unit_price_sen,
                      "line_total_sen": ln.line_total_sen})
        if ln.remit_sen:  # a remit is its own line, naming the application that approved it
            lines.append({"sku": "REMIT", "name": str(_l("Remit %(ref)s", ref=ln.application_ref)), "name_ms": None,
                          "version": None, "session": None, "quantity": 1, "unit_price_sen": -ln.remit_sen,
                          "line_total_sen": -ln.remit_sen, "remit_ref": ln.application_ref})
    inv = Invoice(number=next_number("INV"), order_id=order.id, issued_at=now, billed_name=user.display_name,
                  billed_email=user.email, billed_id_no=user.company_reg_no, lines=lines,
                  total_sen=order.total_sen, due_at=order.expires_at)
    db.session.add(inv)
    db.session.flush()
    return inv


def _mail(order: Order, subject, template: str, **context) -> None:
    user = order.user
    if user is not None and user.email:
        queue_mail(user.email, subject, template, order=order,
                   base_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/"), **context)


def _mail_invoice(order: Order, invoice: Invoice) -> None:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    queue_mail(invoice.billed_email, _l("Invoice %(number)s for order %(ref)s", number=invoice.number,
                                        ref=order.reference),
               "orders_invoice", order=order, invoice=invoice, order_url=f"{base}/orders/{order.reference}")


# ---------------------------------------------------------------- lookups

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


def _intent(reference: str | None):
    if not reference:
        return None
    return db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))


# ---------------------------------------------------------------- payment

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


IN_FLIGHT_TEXT = _l("A payment for this order may still be in progress: your bank may have taken the money, "
                    "and we are checking. You can pay again only once we know that payment did not go through.")


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


def _order_by_ref(reference: str) -> Order | None:
    return _locked_here().get(reference) or db.session.scalar(select(Order).where(Order.reference == reference))


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


# ---------------------------------------------------------------- cancellation and expiry

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


def _credit_note(order: Order, amount_sen: int, reason: str, actor) -> CreditNote | None:
    inv = order.invoice
    if inv is None or amount_sen <= 0:
        return None
    credited = sum(cn.amount_sen for cn in inv.credit_notes)
    amount_sen = min(amount_sen, inv.total_sen - credited)
    if amount_sen <= 0:
        return None
    cn = CreditNote(number=next_number("CN"), invoice_id=inv.id, amount_sen=amount_sen, reason=reason,
                    issued_by_id=getattr(actor, "id", None))
    db.session.add(cn)
    db.session.flush()
    return cn


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


# ---------------------------------------------------------------- staff fulfilment

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
        counter = db.session.get(Counter, order.collect_counter_id) if order.collect_counter_id else None
        _mail(order, _l("Order %(ref)s is ready for collection", ref=order.reference), "orders_ready",
              line=line, counter=counter)
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


def credit_notes_for(references, since, until) -> list[CreditNote]:
    """Credit notes issued in [since, until) for the orders with these references (a list or a
    subquery), each with its invoice and order, oldest first."""
    return list(db.session.scalars(
        select(CreditNote).join(Invoice, CreditNote.invoice_id == Invoice.id).join(Order, Invoice.order_id == Order.id)
        .where(Order.reference.in_(references), CreditNote.issued_at >= since, CreditNote.issued_at < until)
        .options(contains_eager(CreditNote.invoice).contains_eager(Invoice.order))
        .order_by(CreditNote.issued_at, CreditNote.id)))
