"""Working days for the review clock: Monday to Friday, except Malaysian federal public holidays.

The holidays come from the `holidays` package (`Malaysia()` without a state: the federal
list), never from a hand-written list. Dates here are local (Asia/Kuala_Lumpur) dates.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays


@functools.lru_cache(maxsize=16)
def _federal(year: int):
    return holidays.Malaysia(years=year)


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in _federal(d.year)


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many have passed since `start` by the end of `end`."""
    if end <= start:
        return 0
    n = 0
    d = start + timedelta(days=1)
    while d <= end:
        n += is_working_day(d)
        d += timedelta(days=1)
    return n


def add_working_days(start: date, n: int) -> date:
    """The date that is `n` working days after `start` (`start` itself when n <= 0)."""
    d = start
    while n > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            n -= 1
    return d
