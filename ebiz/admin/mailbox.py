"""The development mail viewer: the outbox, read in the browser (`/dev/mail`).

Under `make run` mail goes to the console; this lists every message the store queued and shows
each (text and HTML parts), so links in emails can be followed while developing. It is for
signed-in staff only, and exists only where MAIL_VIEWER_ENABLED is set (DevelopmentConfig sets
it; production and testing answer 404 unless it is turned on), since the outbox holds customers'
reset and confirmation links.
"""

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from ..accounts.decorators import roles_required
from ..accounts.models import STAFF_ROLES
from ..extensions import db
from ..forms import page_arg
from ..notifications import service as notifications

bp = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")
PER_PAGE = 50


@bp.before_request
def _only_where_enabled():
    if not current_app.config.get("MAIL_VIEWER_ENABLED"):
        abort(404)  # not "forbidden": where it is off, it does not exist
    if current_user.is_authenticated and not current_user.is_staff:
        abort(404)


@bp.get("/")
@roles_required(*STAFF_ROLES)
def index():
    page = db.paginate(notifications.outbox_listing(), page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/mailbox.html", page=page)


@bp.get("/<int:message_id>")
@roles_required(*STAFF_ROLES)
def message(message_id: int):
    msg = notifications.outbox_message(message_id)
    if msg is None:
        abort(404)
    return render_template("admin/mailbox_message.html", msg=msg)


@bp.get("/<int:message_id>/html")
@roles_required(*STAFF_ROLES)
def message_html(message_id: int):
    """The HTML part on its own, for the sandboxed frame of the message page."""
    msg = notifications.outbox_message(message_id)
    if msg is None or not msg.body_html:
        abort(404)
    response = current_app.response_class(msg.body_html, mimetype="text/html")
    # The mail's own markup runs nothing and loads nothing from here.
    response.headers["Content-Security-Policy"] = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                                   "sandbox; frame-ancestors 'self'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
