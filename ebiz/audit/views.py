"""The audit log, for administrators: filter by action, actor, target and dates."""

from datetime import UTC, datetime, timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from ..accounts.decorators import roles_required
from ..accounts.models import Role, User
from ..clock import LOCAL_TZ
from ..extensions import db
from ..forms import page_arg, year_in_range
from .labels import action_label
from .service import search

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PER_PAGE = 50


def _local_date(value: str | None, *, end: bool = False):
    """A YYYY-MM-DD date in Malaysia time as naive UTC (the day after it, for an end bound)."""
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d")
    except ValueError:
        return None
    if not year_in_range(day.year):
        return None
    if end:
        day += timedelta(days=1)
    return day.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    args = request.args
    actor_id = None
    actor = (args.get("actor") or "").strip()
    unknown_actor = False
    if actor:
        actor_id = db.session.scalar(select(User.id).where(func.lower(User.email) == actor.lower()))
        unknown_actor = actor_id is None
    q = search(action=(args.get("action") or "").strip() or None, actor_id=actor_id,
               target_type=(args.get("target_type") or "").strip() or None,
               target_id=(args.get("target_id") or "").strip() or None,
               since=_local_date(args.get("since")), until=_local_date(args.get("until"), end=True))
    if unknown_actor:
        q = q.where(False)
    page = db.paginate(q, page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template("audit/index.html", page=page, args=args, unknown_actor=unknown_actor,
                           action_label=action_label)
