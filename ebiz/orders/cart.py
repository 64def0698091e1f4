"""The cart, and the purchase rules it applies when something is put in.

Invariants:
- A cart holds only what its owner may buy now (`purchase_problem`): a published product, a
  training session that is open and has a seat, printed stock that is there, the copies an
  approved application allows; a seat or stock held by an overdue unpaid order is freed first.
- A printed product is bought in quantity (1 to `MAX_QUANTITY`); a licence, a service or a seat
  once. An on-demand service carries its request note (what to deliver).
- Every item is looked up by its owner: someone else's item is "not found".
- Nothing is reserved here: checkout reserves.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..applications import service as applications
from ..catalog.models import Product, TrainingSession
from ..catalog.service import may_purchase
from ..clock import utcnow
from ..errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ..extensions import db
from .cancellation import _free_overdue
from .models import REQUEST_MAX, CartItem

MAX_QUANTITY = 99


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
