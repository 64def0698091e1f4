"""Catalogue pages: browse, search, product page; staff pages to edit the catalogue."""

from datetime import datetime, time
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..accounts.decorators import roles_required
from ..accounts.models import Role, User
from ..clock import from_local, utcnow
from ..errors import EbizError
from ..extensions import db
from ..forms import page_arg, show_error
from ..money import sen_to_decimal_str
from . import service
from .forms import (
    AccessForm,
    CancelSessionForm,
    ProductForm,
    RetireForm,
    RevokeAccessForm,
    SessionForm,
    StatusForm,
    VersionEditForm,
    VersionForm,
)
from .models import Category, Product, ProductStatus, ProductVersion, in_language

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


def _filters() -> service.Filters:
    a = request.args
    return service.Filters(q=a.get("q", "")[:200], category=a.get("category", "")[:60], type=a.get("type", "")[:10],
                           state=a.get("state", "")[:60], district=service.place_name(a.get("district", "")[:80]),
                           format=a.get("format", "")[:40], sort=a.get("sort", "name")[:12],
                           page=page_arg())


def _page_url(f: service.Filters, page: int, base: str | None = None) -> str:
    """The browse URL of another page with the same filters: what url_for("catalog.browse", page=...,
    **filters) builds (same order, same quoting), from `base` (url_for of the page) when given,
    which saves a URL build per pager link."""
    args = {k: v for k, v in vars(f).items() if v and k != "page"}
    if args.get("sort") == "name":
        args.pop("sort")
    if base is None:
        return url_for("catalog.browse", page=page, **args)
    return f"{base}?{urlencode({'page': page, **args}, safe=_QUERY_SAFE)}"


_QUERY_SAFE = "!$'()*,/:;?@"  # werkzeug.urls._urlencode's safe set


@bp.get("/")
def browse():
    f = _filters()
    if db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
        # A page that only reads: each statement on its own (autocommit), so no BEGIN and ROLLBACK
        # round trips, and psycopg keeps the listing query prepared (a rollback discards that).
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    result = service.list_products(f)
    type_labels = {("digital", None): _("Digital data"), ("printed", None): _("Printed product"),
                   ("service", "training"): _("Training programme"),
                   ("service", "extraction"): _("On-demand digital service")}  # once per page, not per card
    return render_template("catalog/browse.html", f=f, result=result, facets=service.facets(),
                           page_url=lambda p, base=url_for("catalog.browse"): _page_url(f, p, base),
                           max_page=service.MAX_PAGE, type_labels=type_labels)


@bp.get("/p/<slug>")
def product(slug):
    p = service.product_by_slug(slug)
    ok, reason = service.may_purchase(current_user, p)
    versions = service.published_versions(p)
    return render_template("catalog/product.html", p=p, may_buy=ok, reason=reason, versions=versions,
                           files_by_version=service.files_of_versions([v.id for v in versions]),
                           sessions=service.upcoming_sessions(p), needs_primary=service.needs_primary(p),
                           is_regular=current_user.is_authenticated and not current_user.is_primary)


# -- staff ------------------------------------------------------------------------------------

def _ip():
    return request.remote_addr


def _category_choices():
    locale = str(get_locale())
    cats = sorted(db.session.scalars(select(Category)), key=lambda c: c.name(locale))
    return [SelectChoice("", "—")] + [SelectChoice(str(c.id), c.name(locale)) for c in cats]


def _state_choices():
    return [SelectChoice("", "—")] + [SelectChoice(s, s) for s in service.malaysian_states()]


def _licence_choices(current: str | None = None):
    """The known licences by title, plus `current` when it names no licence any more (so the form
    shows what is stored; saving it is refused)."""
    directory = service.licence_directory()
    known = directory.choices() if directory is not None else []
    choices = [SelectChoice("", "—")] + [SelectChoice(key, title) for key, title in known]
    if current and current not in {key for key, _title in known}:
        choices.append(SelectChoice(current, _("%(key)s (unknown licence)", key=current)))
    return choices


@bp.get("/admin/")
@roles_required(Role.ADMIN)
def admin_list():
    f = _filters()
    result = service.list_products(f, include_unpublished=True)
    return render_template("catalog/admin_list.html", f=f, result=result, page_url=lambda p: url_for(
        "catalog.admin_list", page=p, q=f.q or None))


@bp.route("/admin/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_new():
    form = ProductForm()
    form.category_id.choices = _category_choices()
    form.state.choices = _state_choices()
    form.licence_key.choices = _licence_choices(form.licence_key.data)
    if form.validate_on_submit():
        data = form.to_data()
        if data["price_sen"] is not None:
            try:
                p = service.save_product(data, actor=current_user, ip=_ip())
                db.session.commit()
                flash(_("Product created as a draft."), "success")
                return redirect(url_for("catalog.admin_edit", product_id=p.id))
            except EbizError as exc:
                db.session.rollback()
                show_error(form, exc)
    return render_template("catalog/admin_product.html", form=form, p=None)


@bp.route("/admin/<int:product_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_edit(product_id):
    p = db.session.get(Product, product_id) or abort(404)
    form = ProductForm(obj=p)
    form.category_id.choices = _category_choices()
    form.state.choices = _state_choices()
    form.licence_key.choices = _licence_choices(form.licence_key.data)
    if request.method == "GET":
        form.price.data = sen_to_decimal_str(p.price_sen)
        form.category_id.data = p.category_id
    if form.validate_on_submit():
        data = form.to_data()
        if data["price_sen"] is not None:
            try:
                service.save_product(data, actor=current_user, product_id=p.id, ip=_ip())
                db.session.commit()
                flash(_("Saved."), "success")
                return redirect(url_for("catalog.admin_edit", product_id=p.id))
            except EbizError as exc:
                db.session.rollback()
                show_error(form, exc)
    return render_template("catalog/admin_product.html", form=form, p=p, status_form=StatusForm(),
                           version_form=VersionForm(), session_form=SessionForm(), access_form=AccessForm(),
                           revoke_form=RevokeAccessForm(), cancel_form=CancelSessionForm(),
                           access=service.restricted_access_for(p.id), now=utcnow())


@bp.post("/admin/<int:product_id>/status")
@roles_required(Role.ADMIN)
def admin_status(product_id):
    form = StatusForm()
    if form.validate_on_submit():
        try:
            service.set_status(product_id, form.status.data, actor=current_user, ip=_ip())
            db.session.commit()
            flash(_("Status changed."), "success")
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
    return redirect(url_for("catalog.admin_edit", product_id=product_id))


@bp.get("/admin/<int:product_id>/retire")
@roles_required(Role.ADMIN)
def admin_retire_confirm(product_id):
    """Say what retiring does before it is done (the POST below does it)."""
    p = db.session.get(Product, product_id) or abort(404)
    if p.status != ProductStatus.PUBLISHED:
        flash(_("Only a published product can be retired."), "error")
        return redirect(url_for("catalog.admin_edit", product_id=p.id))
    return render_template("catalog/admin_retire.html", p=p, form=RetireForm())


@bp.post("/admin/<int:product_id>/retire")
@roles_required(Role.ADMIN)
def admin_retire(product_id):
    p = db.session.get(Product, product_id) or abort(404)
    if RetireForm().validate_on_submit():
        try:
            service.set_status(p.id, ProductStatus.RETIRED, actor=current_user, ip=_ip())
            db.session.commit()
            flash(_("Product retired. It is no longer sold; buyers keep their licences and downloads."),
                  "success")
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for("catalog.admin_edit", product_id=p.id))


@bp.post("/admin/<int:product_id>/versions")
@roles_required(Role.ADMIN)
def admin_add_version(product_id):
    form = VersionForm()
    if form.validate_on_submit():
        try:
            service.add_version(product_id, label=form.label.data, release_date=form.release_date.data,
                                change_notes=form.change_notes.data, change_notes_ms=form.change_notes_ms.data,
                                published=form.published.data,
                                data_format=form.data_format.data, crs=form.crs.data,
                                coverage=form.coverage.data, actor=current_user, ip=_ip())
            db.session.commit()
            flash(_("Version added."), "success")
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
    else:
        flash(_("Please correct the version details."), "error")
    return redirect(url_for("catalog.admin_edit", product_id=product_id))


@bp.route("/admin/versions/<int:version_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_version(version_id):
    v = db.session.get(ProductVersion, version_id) or abort(404)
    form = VersionEditForm(obj=v)
    if form.validate_on_submit():
        service.edit_version(v.id, change_notes=form.change_notes.data, change_notes_ms=form.change_notes_ms.data,
                             published=form.published.data,
                             data_format=form.data_format.data, crs=form.crs.data, coverage=form.coverage.data,
                             actor=current_user, ip=_ip())
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("catalog.admin_edit", product_id=v.product_id))
    return render_template("catalog/admin_version.html", v=v, form=form)


@bp.post("/admin/<int:product_id>/sessions")
@roles_required(Role.ADMIN)
def admin_add_session(product_id):
    form = SessionForm()
    if form.validate_on_submit():
        try:
            service.add_session(product_id, starts_at=from_local(form.starts_at.data),
                                ends_at=from_local(form.ends_at.data), venue=form.venue.data,
                                online=form.online.data, seats_total=form.seats_total.data,
                                actor=current_user, ip=_ip())
            db.session.commit()
            flash(_("Session added."), "success")
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
    else:
        flash(_("Please correct the session details."), "error")
    return redirect(url_for("catalog.admin_edit", product_id=product_id))


@bp.post("/admin/<int:product_id>/access")
@roles_required(Role.ADMIN)
def admin_grant_access(product_id):
    form = AccessForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data.strip().lower()))
        if user is None:
            flash(_("No customer has this email address."), "error")
        else:
            expires = None
            if form.expires_on.data:
                expires = from_local(datetime.combine(form.expires_on.data, time(23, 59)))
            try:
                service.grant_restricted_access(user.id, product_id, source_ref=form.source_ref.data,
                                                granted_by=current_user, expires_at=expires, ip=_ip())
                db.session.commit()
                flash(_("Access granted."), "success")
            except EbizError as exc:
                db.session.rollback()
                flash(str(exc.message), "error")
    else:
        flash(_("Please correct the access details."), "error")
    return redirect(url_for("catalog.admin_edit", product_id=product_id))


@bp.post("/admin/access/<int:access_id>/revoke")
@roles_required(Role.ADMIN)
def admin_revoke_access(access_id):
    form = RevokeAccessForm()
    row = None
    if form.validate_on_submit():
        try:
            row = service.revoke_restricted_access(access_id, actor=current_user, reason=form.reason.data, ip=_ip())
            db.session.commit()
            flash(_("Access revoked."), "success")
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
    else:
        flash(_("Give a reason."), "error")
    if row is None:
        from .models import RestrictedAccess

        row = db.session.get(RestrictedAccess, access_id) or abort(404)
    return redirect(url_for("catalog.admin_edit", product_id=row.product_id))


@bp.app_template_filter("filesize")
def filesize(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


@bp.app_template_filter("in_lang")
def in_lang(obj, field: str) -> str:
    """A product's (or version's) name, description or change notes in the reader's language."""
    return in_language(obj, field, str(get_locale()))


@bp.app_template_filter("product_type_label")
def product_type_label(p) -> str:
    if p.type == "digital":
        return _("Digital data")
    if p.type == "printed":
        return _("Printed product")
    if p.service_kind == "training":
        return _("Training programme")
    return _("On-demand digital service")


@bp.app_template_global("product_status_label")
def product_status_label(status: str) -> str:
    return {ProductStatus.DRAFT: _("Draft"), ProductStatus.PUBLISHED: _("Published"),
            ProductStatus.RETIRED: _("Retired")}.get(status, status)
