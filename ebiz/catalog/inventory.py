"""Stock and seats.

Invariants:
- Stock and seats change only through `reserve_stock`/`release_stock` and
  `reserve_seat`/`release_seat`: single conditional UPDATEs, so concurrent buyers can never take
  more than exists (the CHECK constraints back this up).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from .models import (
    Product,
    TrainingSession,
)

# -- stock and seats -------------------------------------------------------------

def reserve_stock(product_id: int, qty: int) -> None:
    """Take `qty` from a printed product's stock, or raise Conflict: never oversells."""
    if qty < 1:
        raise ValidationError(_l("Quantity must be at least 1."), field="quantity")
    done = db.session.execute(
        update(Product).where(Product.id == product_id, Product.stock.is_not(None), Product.stock >= qty)
        .values(stock=Product.stock - qty).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("Sorry, there is not enough stock left for this quantity."), field="quantity")
    _expire(Product, product_id)


def release_stock(product_id: int, qty: int) -> None:
    if qty < 1:
        raise ValidationError(_l("Quantity must be at least 1."), field="quantity")
    done = db.session.execute(
        update(Product).where(Product.id == product_id, Product.stock.is_not(None))
        .values(stock=Product.stock + qty).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise NotFound()
    _expire(Product, product_id)


def reserve_seat(session_id: int) -> None:
    """Take one seat of a training session, or raise Conflict when it is full or cancelled."""
    done = db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session_id, TrainingSession.cancelled.is_(False),
               TrainingSession.seats_taken < TrainingSession.seats_total)
        .values(seats_taken=TrainingSession.seats_taken + 1)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("Sorry, this session is full."), field="session")
    _expire(TrainingSession, session_id)


def release_seat(session_id: int) -> None:
    done = db.session.execute(
        update(TrainingSession).where(TrainingSession.id == session_id, TrainingSession.seats_taken > 0)
        .values(seats_taken=TrainingSession.seats_taken - 1)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("This session has no seat to release."))
    _expire(TrainingSession, session_id)


def _expire(model, pk) -> None:
    """The UPDATE bypassed the ORM: make a loaded copy re-read its counters."""
    obj = db.session.identity_map.get(db.session.identity_key(model, pk))
    if obj is not None:
        db.session.expire(obj)
