"""Reading the counters: plain queries the desks above share (the counter desk, the help centre)."""

from sqlalchemy import select

from ..extensions import db
from .models import Counter


def open_counters() -> list[Counter]:
    """The active counters, HQ first, then by state and name."""
    return list(db.session.scalars(select(Counter).where(Counter.active.is_(True))
                                   .order_by(Counter.is_hq.desc(), Counter.state, Counter.name)))
