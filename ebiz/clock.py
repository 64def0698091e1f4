"""Time: stored as naive UTC, shown in Asia/Kuala_Lumpur."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Kuala_Lumpur")


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how every column stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(LOCAL_TZ)


def from_local(local: datetime | None) -> datetime | None:
    """A wall-clock time in Malaysia (as a form gives it) as the naive UTC the columns store."""
    if local is None:
        return None
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def format_local(dt: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    local = to_local(dt)
    return local.strftime(fmt) if local else ""
