"""Recording and querying audit events.

`record` adds the event to the current session: it commits with the action
it describes, or not at all.
"""

from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from .models import AuditEvent

SENSITIVE_KEYS = {"password", "totp_secret", "secret", "token", "code", "otp"}


def record(action: str, *, actor=None, target=None, target_type: str | None = None,
           target_id: object = None, ip: str | None = None, **details) -> AuditEvent:
    """Add an audit event. `target` may be a model instance (type and id are taken from it)."""
    if target is not None:
        target_type = target_type or type(target).__name__
        target_id = target_id if target_id is not None else getattr(target, "id", None)
    clean = {k: v for k, v in details.items() if k not in SENSITIVE_KEYS}
    ev = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", actor),
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=ip,
        details=clean,
    )
    db.session.add(ev)
    return ev


def search(*, action: str | None = None, actor_id: int | None = None, target_type: str | None = None,
           target_id: str | None = None, since: datetime | None = None, until: datetime | None = None):
    """A select() of events, newest first, filtered by what is given."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        q = q.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor_id:
        q = q.where(AuditEvent.actor_id == actor_id)
    if target_type:
        q = q.where(AuditEvent.target_type == target_type)
    if target_id:
        q = q.where(AuditEvent.target_id == str(target_id))
    if since:
        q = q.where(AuditEvent.created_at >= since)
    if until:
        q = q.where(AuditEvent.created_at < until)
    return q
