"""Demo wallets: the Primary demo customers get a balance through real HQ counter top-ups."""

from sqlalchemy import select

from ..accounts.models import Role, Tier, User
from ..counters.models import Counter
from ..extensions import db
from ..money import format_sen
from . import service

DEMO_TOPUPS = {"aminah@example.my": 50_000, "ukur@example.my": 250_000}  # sen


def seed() -> list[str]:
    hq = db.session.scalar(select(Counter).where(Counter.is_hq.is_(True)))
    staff = hq and db.session.scalar(select(User).where(User.role == Role.COUNTER, User.counter_id == hq.id))
    if staff is None:
        return ["", "Wallets: no HQ counter staff in the demo data, no top-ups made."]
    lines = ["", "Wallets (topped up at the HQ counter):"]
    customers = db.session.scalars(select(User).where(User.tier == Tier.PRIMARY, User.role == Role.CUSTOMER)
                                   .order_by(User.id)).all()
    for n, customer in enumerate(customers, start=1):
        amount = DEMO_TOPUPS.get(customer.email, 20_000)
        service.topup_at_counter(staff=staff, customer=customer, amount_sen=amount, receipt_no=f"HQ-DEMO-{n:04d}")
        lines.append(f"  {customer.email:<30} {format_sen(service.balance(customer)):>14}")
    return lines
