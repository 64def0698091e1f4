"""Application pages: the applicant's list, form, documents and answers; the reviewers' queue and decisions."""

from datetime import datetime, time
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.decorators import mfa_verified
from ..clock import from_local
from ..errors import EbizError, NotFound, ValidationError
from ..extensions import db, login_manager
from ..forms import int_id, show_error, upload_limit
from ..money import MoneyFormatError, parse_ringgit
from . import service
from .forms import (
    ActionForm,
    AnswerForm,
    ApplicationForm,
    ApproveForm,
    DocumentForm,
    InfoRequestForm,
    QueueFilterForm,
    RecommendForm,
    RejectForm,
    ReviewerForm,
)
from .models import State

bp = Blueprint("applications", __name__, url_prefix="/applications")


def _ip():
    return request.remote_addr


def reviewer_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_staff or not service.is_reviewer(current_user):
            abort(403)
        if not mfa_verified():
            return redirect(url_for("accounts.mfa_setup", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def _viewable(token):
    try:
        return service.for_viewer(token, current_user)
    except NotFound:
        abort(404)


# ---------------------------------------------------------------- applicant

@bp.get("/")
@login_required
def mine():
    return render_template("applications/list.html", apps=service.applications_of(current_user),
                           awaited=service.awaited, labels=service.STATE_LABELS)


def _form_choices(form):
    form.products.choices = [(p.id, p.name + (" · " + _("Restricted") if p.restricted else ""))
                             for p in service.applicable_products()]


def _save(form, token=None):
    return service.save_draft(
        current_user, token=token, product_ids=form.products.data or [], wants_data=form.wants_data.data,
        wants_remit=form.wants_remit.data, purpose=form.purpose.data, agency=form.agency.data,
        applicant_category=form.applicant_category.data or None, intended_use=form.intended_use.data,
        area_state=form.area_state.data, area_district=form.area_district.data, bbox=form.bbox.data,
        period_from=form.period_from.data, period_to=form.period_to.data, declaration=form.declaration.data,
        ip=_ip())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if current_user.is_staff:
        abort(403)
    form = ApplicationForm()
    _form_choices(form)
    if request.method == "GET":
        wanted = int_id(request.args.get("product"))
        if wanted and any(wanted == c[0] for c in form.products.choices):
            form.products.data = [wanted]
    if form.validate_on_submit():
        try:
            app_ = _save(form)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Draft saved. Attach your documents, then submit."), "success")
            return redirect(url_for(".detail", token=app_.token))
    return render_template("applications/form.html", form=form, app_=None, categories=service.CATEGORIES,
                           eligible=service.REMIT_ELIGIBLE)


@bp.route("/<token>/edit", methods=["GET", "POST"])
@login_required
def edit(token):
    app_ = _viewable(token)
    if app_.user_id != current_user.id or app_.state != State.DRAFT:
        abort(404)
    form = ApplicationForm(obj=None if request.method == "POST" else app_)
    _form_choices(form)
    if request.method == "GET":
        form.products.data = [i.product_id for i in app_.items]
        form.declaration.data = app_.declaration_accepted_at is not None
    if form.validate_on_submit():
        try:
            _save(form, token)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Draft saved."), "success")
            return redirect(url_for(".detail", token=token))
    return render_template("applications/form.html", form=form, app_=app_, categories=service.CATEGORIES,
                           eligible=service.REMIT_ELIGIBLE)


def _detail(app_, **forms):
    staff = current_user.is_staff
    ctx = dict(app_=app_, labels=service.STATE_LABELS, awaited=service.awaited(app_, for_staff=staff),
               event_labels=service.EVENT_LABELS,
               days_used=service.days_used(app_), days_left=service.days_left(app_), is_staff=staff,
               may_decide=service.may_decide(current_user), two_step=service._cfg("APPLICATIONS_TWO_STEP"),
               categories=service.CATEGORIES, users=service.people_of(app_))
    ctx.update(doc_form=DocumentForm(), answer_form=AnswerForm(), action_form=ActionForm(),
               info_form=InfoRequestForm(), recommend_form=RecommendForm(), approve_form=ApproveForm(),
               reject_form=RejectForm())
    ctx.update({k: v for k, v in forms.items() if v is not None})
    return render_template("applications/detail.html", **ctx)


@bp.get("/<token>")
@login_required
def detail(token):
    return _detail(_viewable(token))


def _act(token, fn, form=None, ok_message=None):
    """Run one service call for a POST; commit and go back to the page, or show the page with the error."""
    app_ = _viewable(token)
    form = form or ActionForm()
    if form.validate_on_submit():
        try:
            fn(form)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            return _detail(service.for_viewer(token, current_user), **{_form_key(form): form}), 422
        db.session.commit()
        if ok_message:
            flash(ok_message, "success")
        return redirect(url_for(".detail", token=token))
    return _detail(app_, **{_form_key(form): form}), 422


def _form_key(form) -> str:
    return {DocumentForm: "doc_form", AnswerForm: "answer_form", InfoRequestForm: "info_form",
            RecommendForm: "recommend_form", ApproveForm: "approve_form", RejectForm: "reject_form"
            }.get(type(form), "action_form")


@bp.post("/<token>/documents")
@upload_limit("APPLICATIONS_DOCUMENT_MAX_BYTES")
@login_required
def upload(token):
    def fn(form):
        f = form.document.data
        service.add_document(token, current_user, f.stream, f.filename or "", ip=_ip())
    return _act(token, fn, DocumentForm(), _("Document attached."))


@bp.get("/<token>/documents/<doc>")
@login_required
def document(token, doc):
    try:
        d = service.document_for_viewer(token, doc, current_user)
    except NotFound:
        abort(404)
    return service.serve_document(d)


@bp.post("/<token>/submit")
@login_required
def submit(token):
    return _act(token, lambda f: service.submit(token, current_user, ip=_ip()), None,
                _("Application submitted. We will email you at each step."))


@bp.post("/<token>/withdraw")
@login_required
def withdraw(token):
    return _act(token, lambda f: service.withdraw(token, current_user, ip=_ip()), None,
                _("Application withdrawn."))


@bp.post("/<token>/answer")
@login_required
def answer(token):
    return _act(token, lambda f: service.resubmit(token, current_user, answer=f.answer.data, ip=_ip()),
                AnswerForm(), _("Your answer has been sent; the review continues."))


# ---------------------------------------------------------------- staff

@bp.get("/staff/")
@reviewer_required
def queue():
    form = QueueFilterForm(request.args)
    form.state.choices = [("", _("Awaiting review or the applicant"))] + [
        (s.value, str(service.STATE_LABELS[s])) for s in State if s != State.DRAFT]
    form.product.choices = [("", _("Any product"))] + [(p.id, p.name) for p in service.restricted_products()]
    form.validate()
    state = form.state.data if form.state.data in {s.value for s in State} - {"draft"} else None
    older = int(form.older_than.data) if (form.older_than.data or "").isdigit() else None
    apps = service.queue(state=state, product_id=form.product.data or None, older_than_days=older)
    return render_template("applications/queue.html", apps=apps, form=form, labels=service.STATE_LABELS,
                           days_left=service.days_left, days_used=service.days_used)


@bp.post("/<token>/request-info")
@reviewer_required
def request_info(token):
    return _act(token, lambda f: service.request_info(token, current_user, question=f.question.data, ip=_ip()),
                InfoRequestForm(), _("The applicant has been asked for more information."))


@bp.post("/<token>/recommend")
@reviewer_required
def recommend(token):
    return _act(token, lambda f: service.recommend(token, current_user, recommendation=f.recommendation.data,
                                                   notes=f.notes.data, ip=_ip()),
                RecommendForm(), _("Recommendation recorded."))


def _approve(token, form):
    app_ = service.for_viewer(token, current_user)
    copies = {}
    for item in app_.items:
        raw = (request.form.get(f"copies-{item.product_id}") or "0").strip()
        if not (raw.isascii() and raw.isdecimal()) or len(raw) > 4:
            raise ValidationError(_("Give the number of copies as a whole number."), field="conditions")
        copies[item.product_id] = int(raw)
    remit_value = None
    if form.remit_kind.data == "percent":
        raw = (form.remit_value.data or "").strip()
        if not (raw.isascii() and raw.isdecimal()) or len(raw) > 3:
            raise ValidationError(_("Give a percentage from 0 to 100."), field="remit_value")
        remit_value = int(raw)
    elif form.remit_kind.data == "fixed":
        try:
            remit_value = parse_ringgit(form.remit_value.data or "")
        except MoneyFormatError:
            raise ValidationError(_("Enter an amount in ringgit, e.g. 50 or 50.00."),
                                          field="remit_value") from None
    valid_until = from_local(datetime.combine(form.valid_until.data, time(23, 59, 59)))
    service.approve(token, current_user, copies=copies, valid_until=valid_until,
                    conditions=form.conditions.data, remit_kind=form.remit_kind.data or None,
                    remit_value=remit_value, ip=_ip())


@bp.post("/<token>/approve")
@reviewer_required
def approve(token):
    return _act(token, lambda f: _approve(token, f), ApproveForm(), _("Application approved."))


@bp.post("/<token>/reject")
@reviewer_required
def reject(token):
    return _act(token, lambda f: service.reject(token, current_user, reason=f.reason.data, ip=_ip()),
                RejectForm(), _("Application rejected."))


@bp.route("/staff/reviewers", methods=["GET", "POST"])
@reviewer_required
def reviewers():
    if not service.may_decide(current_user):
        abort(403)
    form = ReviewerForm()
    if form.validate_on_submit():
        user = service.staff_by_email(form.email.data)
        try:
            if user is None:
                raise ValidationError(_("No staff member has this email."), field="email")
            service.grant_reviewer(user.id, actor=current_user, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s may now review applications.", name=user.full_name), "success")
            return redirect(url_for(".reviewers"))
    return render_template("applications/reviewers.html", form=form, rows=service.reviewer_rows(),
                           revoke_form=ActionForm())


@bp.post("/staff/reviewers/<int:user_id>/revoke")
@reviewer_required
def revoke_reviewer(user_id):
    if not service.may_decide(current_user):
        abort(403)
    if ActionForm().validate_on_submit():
        service.revoke_reviewer(user_id, actor=current_user, ip=_ip())
        db.session.commit()
        flash(_("Reviewer permission removed."), "success")
    return redirect(url_for(".reviewers"))


@bp.app_template_global()
def restricted_product_apply_url(product) -> str:
    return url_for("applications.new", product=product.id)


@bp.app_template_global()
def is_application_reviewer(user) -> bool:
    return service.is_reviewer(user)
