"""Delivery pages: My downloads, signed download links, staff allowance and file pages."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.decorators import roles_required
from ..accounts.models import Role
from ..catalog.models import ProductVersion
from ..db import begin_write
from ..errors import EbizError
from ..extensions import db, login_manager
from ..forms import large_upload
from . import service
from .forms import RemoveFileForm, UploadForm
from .models import ProductFile
from .storage import StorageError

bp = Blueprint("delivery", __name__, url_prefix="/downloads")


@bp.before_request
def _write_up_front():
    # Issuing and serving a link are GETs that write (link, counter, event): on
    # SQLite take the write lock before anything reads (see ebiz.db.begin_write).
    if request.endpoint in ("delivery.get_link", "delivery.download"):
        begin_write()


@bp.app_template_global("version_files")
def version_files(version_id: int) -> list:
    """The files of a version (size and checksum)."""
    return service.files_of_version(version_id)



@bp.get("/")
@login_required
def my_downloads():
    return render_template("delivery/my_downloads.html", rows=service.entitlements_for(current_user))


def _signed_in_as() -> tuple[int, int] | None:
    """(user id, session version) of an intact sign-in, read from the session alone (no query).

    Intact: the session carries a user id and Flask-Login's session identifier for this client
    (as `login_user` stored it). Anything else (no sign-in, another client, a remember-me
    cookie) returns None and goes through Flask-Login as usual.
    """
    sid = session.get("_user_id")
    if not isinstance(sid, str) or session.get("_id") != login_manager._session_identifier_generator():
        return None
    uid, _sep, version = sid.partition(":")
    if not (uid.isdigit() and version.isdigit()):
        return None
    return int(uid), int(version)


@bp.get("/get/<entitlement_ref>/<file_ref>")
def get_link(entitlement_ref: str, file_ref: str):
    """Issue a fresh signed link for one file and go to it (like the floor's signed redirect).

    The hot path: for an intact sign-in one INSERT ... SELECT checks the account (active, same
    session version, as the user loader would), ownership, licence, window and allowance, and
    records the link. On PostgreSQL that one statement commits on its own (autocommit, an
    ordinary durable commit): one round trip instead of BEGIN, user SELECT, INSERT, COMMIT.
    When it writes nothing, the full path below says why (sign-in page, 404 or refusal page).
    """
    who = _signed_in_as()
    if who is not None:
        own_commit = db.engine.dialect.name == "postgresql"
        token = service.try_issue_link(*who, entitlement_ref, file_ref, ip=request.remote_addr,
                                       own_commit=own_commit)
        if token is not None:
            if not own_commit:
                db.session.commit()
            return redirect(url_for("delivery.download", token=token), code=302)
        db.session.rollback()
    return _get_link_checked(entitlement_ref, file_ref)


@login_required
def _get_link_checked(entitlement_ref: str, file_ref: str):
    try:
        token = service.issue_link(current_user, entitlement_ref, file_ref, ip=request.remote_addr)
    except service.LinkRefused as exc:
        db.session.rollback()
        return render_template("delivery/link_error.html", exc=exc, offer=None), exc.status
    db.session.commit()
    return redirect(url_for("delivery.download", token=token), code=302)


@bp.get("/d/<token>")
def download(token: str):
    """Serve a signed link: the bytes (local) or a presigned redirect (S3)."""
    user_id = current_user.id if current_user.is_authenticated else None
    try:
        pf = service.open_link(token, user_id=user_id, ip=request.remote_addr,
                               range_header=request.headers.get("Range"))
        response = service.serve_file(pf)
    except service.LinkRefused as exc:
        db.session.rollback()
        offer = service.offer_for(current_user, token) if exc.kind not in ("foreign",) else None
        return render_template("delivery/link_error.html", exc=exc, offer=offer), exc.status
    except StorageError:
        db.session.rollback()
        exc = service.LinkRefused("missing")
        return render_template("delivery/link_error.html", exc=exc, offer=None), exc.status
    db.session.commit()
    return response


# -- staff ------------------------------------------------------------------------------------

@bp.get("/staff/")
@roles_required(Role.ADMIN, Role.SUPPORT)
def staff_entitlements():
    q = request.args.get("q", "")[:254]
    return render_template("delivery/staff_entitlements.html", q=q, rows=service.find_entitlements(q))


@bp.get("/staff/<ref>")
@roles_required(Role.ADMIN, Role.SUPPORT)
def staff_entitlement(ref: str):
    """An entitlement and its downloads. Restoring or extending it is a ticket-backed action: it is
    done from the customer's support ticket (support.adjust_download), never from here."""
    ent = service.entitlement_by_ref(ref)
    return render_template("delivery/staff_entitlement.html", ent=ent, files=service.files_for(ent),
                           history=service.download_history(ent.id))


@bp.route("/staff/versions/<int:version_id>/files", methods=["GET", "POST"])
@large_upload
@roles_required(Role.ADMIN)
def version_files_page(version_id: int):
    version = db.session.get(ProductVersion, version_id) or abort(404)
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            service.store_file(version.product_id, upload.stream, upload.filename or "", actor=current_user,
                               version_id=version.id, ip=request.remote_addr)
            db.session.commit()
            flash(_("File uploaded."), "success")
            return redirect(url_for("delivery.version_files_page", version_id=version.id))
        except EbizError as exc:
            db.session.rollback()
            form.file.errors = [*form.file.errors, exc.message]
    return render_template("delivery/version_files.html", version=version, form=form, remove_form=RemoveFileForm(),
                           files=service.files_of_version(version.id, include_removed=True),
                           allowed=service.allowed_extensions(version.product)), \
        (400 if form.errors else 200)


@bp.post("/staff/files/<int:file_id>/remove")
@roles_required(Role.ADMIN)
def remove_file(file_id: int):
    pf = db.session.get(ProductFile, file_id) or abort(404)
    if RemoveFileForm().validate_on_submit():
        service.remove_file(pf.id, actor=current_user, ip=request.remote_addr)
        db.session.commit()
        flash(_("File withdrawn."), "success")
    return redirect(url_for("delivery.version_files_page", version_id=pf.version_id))
