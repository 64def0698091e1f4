"""The support desk's working-hours clock.

Working time is Monday to Friday, 08:00-17:00 in Asia/Kuala_Lumpur, except
Malaysia's public holidays as the `holidays` package knows them (national
holidays plus those of SUPPORT_HOLIDAY_SUBDIV, the state of the HQ desk).
Every SLA is counted in working seconds: `add_working(start, seconds)` is the
moment the clock reaches `seconds` of working time after `start`, and
`working_between(a, b)` the working time between two moments. Arguments and
results are naive UTC, as every column stores them.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta

import holidays

from ..clock import LOCAL_TZ

OPEN = time(8, 0)
CLOSE = time(17, 0)
DAY_SECONDS = 9 * 3600


@functools.lru_cache(maxsize=64)
def _holidays(year: int, subdiv: str | None) -> frozenset[date]:
    return frozenset(holidays.country_holidays("MY", subdiv=subdiv or None, years=year).keys())


def is_working_day(d: date, subdiv: str | None = "KUL") -> bool:
    return d.weekday() < 5 and d not in _holidays(d.year, subdiv)


def _local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(tzinfo=None)


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def add_working(start: datetime, seconds: float, subdiv: str | None = "KUL") -> datetime:
    """The UTC moment `seconds` of working time after `start` (UTC)."""
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    cur = _local(start)
    remaining = timedelta(seconds=seconds)
    for _ in range(3660):  # ten years of days: an SLA never runs that long
        day = cur.date()
        if is_working_day(day, subdiv):
            opens = datetime.combine(day, OPEN)
            closes = datetime.combine(day, CLOSE)
            if cur < opens:
                cur = opens
            if cur < closes:
                if cur + remaining <= closes:
                    return _utc(cur + remaining)
                remaining -= closes - cur
        cur = datetime.combine(day + timedelta(days=1), OPEN)
    raise ValueError("working-hours clock ran past ten years")


def working_between(a: datetime, b: datetime, subdiv: str | None = "KUL") -> float:
    """Working seconds between two UTC moments (0 when b is not after a)."""
    if b <= a:
        return 0.0
    la, lb = _local(a), _local(b)
    total = 0.0
    day = la.date()
    while day <= lb.date():
        if is_working_day(day, subdiv):
            lo = max(la, datetime.combine(day, OPEN))
            hi = min(lb, datetime.combine(day, CLOSE))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def is_open(at: datetime, subdiv: str | None = "KUL") -> bool:
    """Whether the desk is open at this UTC moment."""
    local = _local(at)
    return is_working_day(local.date(), subdiv) and OPEN <= local.time() < CLOSE
