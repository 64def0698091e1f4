"""Demo orders: a paid digital order (wallet) for the Primary customer, a pending training
registration for a Regular customer. Seeds only what the catalogue makes possible."""

from sqlalchemy import select

from ..accounts.models import Role, User
from ..catalog.models import Product, TrainingSession
from ..clock import utcnow
from ..counters.models import Counter
from ..extensions import db
from ..licensing.service import get_licence
from . import service

PRIMARY_EMAIL = "aminah@example.my"
REGULAR_EMAIL = "tan@example.my"


def _accepted(product) -> dict:
    return {product.id: get_licence(product.licence_key).sha256} if product.licence_key else {}


def seed() -> list[str]:
    from ..wallet import service as wallet

    lines: list[str] = []
    primary = db.session.scalar(select(User).where(User.email == PRIMARY_EMAIL))
    digital = db.session.scalar(select(Product).where(Product.type == "digital", Product.status == "published",
                                                      Product.restricted.is_(False)).order_by(Product.id))
    if primary is not None and digital is not None and service.latest_release(digital) is not None:
        if wallet.balance(primary) < digital.price_sen:
            hq_staff = db.session.scalar(select(User).join(Counter, Counter.id == User.counter_id)
                                         .where(User.role == Role.COUNTER, Counter.is_hq.is_(True)))
            if hq_staff is not None:
                wallet.topup_at_counter(staff=hq_staff, customer=primary, amount_sen=max(digital.price_sen, 10_000),
                                        receipt_no="DEMO-ORDERS-1")
        service.add_to_cart(primary, digital.id)
        order = service.checkout(primary, checkout_key="demo-1", accepted=_accepted(digital), ip="127.0.0.1",
                                 user_agent="flask ebiz seed-demo")
        service.pay(primary, order, method="wallet", idempotency_key="demo-order-1")
        lines.append(f"  paid order {order.reference} ({digital.name}) for {PRIMARY_EMAIL}")
    regular = db.session.scalar(select(User).where(User.email == REGULAR_EMAIL))
    session = db.session.scalar(select(TrainingSession).join(Product).where(
        Product.status == "published", TrainingSession.cancelled.is_(False), TrainingSession.starts_at > utcnow(),
        TrainingSession.seats_taken < TrainingSession.seats_total).order_by(TrainingSession.starts_at))
    if regular is not None and session is not None:
        service.add_to_cart(regular, session.product_id, session_id=session.id)
        order = service.checkout(regular, checkout_key="demo-2", accepted=_accepted(session.product),
                                 ip="127.0.0.1", user_agent="flask ebiz seed-demo")
        lines.append(f"  pending training order {order.reference} for {REGULAR_EMAIL} (awaiting payment)")
    if lines:
        lines.insert(0, "Orders:")
    db.session.flush()
    return lines
