"""Counters: the places where customers are served (the HQ counter and one per state).

Why here, on the ground floor beside `accounts`: a counter is a place, not the desk's work. Lower
domains hold foreign keys to it (a counter staff member's `User.counter_id`, a wallet top-up taken
at the HQ counter, an order paid or collected at a counter), so the model must sit below all of
them. The counter desk (`ebiz/counter/`, a front desk: its views, forms, runner sessions,
collections, sales and day-end) calls down to it. This room holds the model and the plain
queries other domains read (`service.open_counters`); it imports only the foundations.

Invariants:
- Only the HQ counter (`is_hq`) takes prepaid wallet top-ups. A counter shows the public where it
  is, its phone and its opening hours: `open_days` is one of the desk's OPEN_DAYS
  (`ebiz.counter.service`: 'mon-fri', or 'sun-thu' for Kedah, Kelantan and Terengganu; the check
  constraint below keeps the same two keys), `opens_at`/`closes_at` are Malaysia time; public
  holidays close it (the `holidays` calendar, not a hand list).
"""

from sqlalchemy import CheckConstraint, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Counter(db.Model):
    __tablename__ = "counter"
    __table_args__ = (
        CheckConstraint("open_days IS NULL OR open_days IN ('mon-fri', 'sun-thu')", name="open_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    open_days: Mapped[str | None] = mapped_column(String(7))
    opens_at: Mapped[object | None] = mapped_column(Time)
    closes_at: Mapped[object | None] = mapped_column(Time)
    is_hq: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def has_hours(self) -> bool:
        return bool(self.open_days and self.opens_at and self.closes_at)

    def __repr__(self) -> str:
        return f"<Counter {self.code}>"
