"""The working-hours clock behind every SLA: Mon-Fri 08:00-17:00 in Malaysia, public holidays off."""

from datetime import datetime

from ebiz.clock import from_local, to_local
from ebiz.support import workhours


def local(*args) -> datetime:
    return from_local(datetime(*args))


def test_friday_1650_before_a_public_holiday_monday():
    # Fri 28 Aug 2026 16:50; Mon 31 Aug is National Day: 10 minutes on Friday, the rest on Tuesday.
    start = local(2026, 8, 28, 16, 50)
    due = workhours.add_working(start, 4 * 3600)
    assert to_local(due).replace(tzinfo=None) == datetime(2026, 9, 1, 11, 50)
    assert workhours.working_between(start, due) == 4 * 3600


def test_weekend_is_skipped_and_after_hours_starts_next_morning():
    # Sat 5 Dec 2026 10:00 -> Mon 7 Dec 08:00 + 2h.
    due = workhours.add_working(local(2026, 12, 5, 10, 0), 2 * 3600)
    assert to_local(due).replace(tzinfo=None) == datetime(2026, 12, 7, 10, 0)
    # Thu 3 Dec 19:00 (after hours) -> Fri 4 Dec 08:00 + 1h.
    due = workhours.add_working(local(2026, 12, 3, 19, 0), 3600)
    assert to_local(due).replace(tzinfo=None) == datetime(2026, 12, 4, 9, 0)
    assert workhours.working_between(local(2026, 12, 4, 16, 0), local(2026, 12, 7, 9, 0)) == 2 * 3600


def test_a_nine_hour_sla_is_one_working_day():
    due = workhours.add_working(local(2026, 12, 3, 8, 0), 9 * 3600)
    assert to_local(due).replace(tzinfo=None) == datetime(2026, 12, 3, 17, 0)
    due = workhours.add_working(local(2026, 12, 3, 8, 1), 9 * 3600)
    assert to_local(due).replace(tzinfo=None) == datetime(2026, 12, 4, 8, 1)


def test_holidays_come_from_the_calendar_library():
    assert not workhours.is_working_day(datetime(2026, 8, 31).date())  # National Day
    assert not workhours.is_working_day(datetime(2026, 12, 25).date())  # Christmas
    assert workhours.is_working_day(datetime(2026, 12, 24).date())
    assert not workhours.is_open(local(2026, 12, 24, 17, 0))
    assert workhours.is_open(local(2026, 12, 24, 16, 59))
