"""Counters: the HQ counter and one per state and federal territory.

Only the HQ counter (`is_hq`) takes prepaid wallet top-ups. A counter shows the public where it is,
its phone and its opening hours: `open_days` is one of OPEN_DAYS (Kedah, Kelantan and Terengganu work
Sunday to Thursday), `opens_at`/`closes_at` are Malaysia time; public holidays close it (the
`holidays` calendar, not a hand list).
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
