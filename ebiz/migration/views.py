"""Migration pages: the ask page after sign-in, the emailed link's form, the administrators' dashboard."""

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from ..accounts import service as accounts
from ..accounts.decorators import roles_required
from ..accounts.models import Kind, Role
from ..errors import EbizError
from ..extensions import db, limiter
from ..forms import show_error
from ..support import service as support
from . import service
from .forms import ConfirmForm, CorrectEmailForm, LinkForm, MergeForm, SearchForm
from .service import LinkProblem

bp = Blueprint("migration", __name__, url_prefix="/migration")


def _ip() -> str | None:
    return request.remote_addr


def _link_limit() -> str:
    return current_app.config["MIGRATION_LINK_RATE_LIMIT"]


# ------------------------------------------------------------------------- the customer's side

@bp.get("/ask/<token>")
def ask(token: str):
    try:
        masked = service.ask(token)
    except EbizError as exc:
        return render_template("migration/expired.html", problem=exc.message), 404
    return render_template("migration/ask.html", masked=masked, token=token, form=ConfirmForm())


@bp.post("/ask/<token>/yes")
@limiter.limit(_link_limit, scope="migration-link")
def ask_yes(token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("migration.ask", token=token))
    try:
        masked = service.request_link(token, ip=_ip())
    except EbizError as exc:
        db.session.rollback()
        return render_template("migration/expired.html", problem=exc.message), 404
    db.session.commit()
    return render_template("migration/sent.html", masked=masked,
                           hours=current_app.config["MIGRATION_LINK_MAX_AGE"] // 3600)


@bp.post("/ask/<token>/no")
@limiter.limit(_link_limit, scope="migration-no")  # each new request opens a support ticket
def ask_no(token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("migration.ask", token=token))
    try:
        ticket_ref = report_email_unused(token, ip=_ip(), locale=str(get_locale()))
    except EbizError as exc:
        db.session.rollback()
        return render_template("migration/expired.html", problem=exc.message), 404
    db.session.commit()
    return render_template("migration/no_email.html", reference=ticket_ref)


def report_email_unused(token: str, *, ip: str | None, locale: str) -> str:
    """The old email is dead: the migration domain records the request (the legacy row locked), and a
    new request is taken over by a support ticket the customer can quote. Returns the ticket's
    reference (the same one when the customer says "no" again: one open request per old account)."""
    req, row = service.report_email_unused(token, ip=ip)
    if not req.ticket_ref:
        subject, body = service.support_ticket_text(row)
        ticket = support.open_ticket_without_email(
            name=row.company_name or row.full_name, email_on_record=row.email, category="account",
            subject=subject, body=body, linked_kind="legacy", linked_ref=row.legacy_id, locale=locale, ip=ip)
        service.attach_ticket(req, ticket.reference)
    return req.ticket_ref


@bp.route("/link/<token>", methods=["GET", "POST"])
def link(token: str):
    try:
        row, merge_into = service.link_form(token)
    except LinkProblem as exc:
        return render_template("migration/expired.html", problem=exc.message), 400
    except EbizError as exc:  # an account it may not join (service._check_may_join)
        return render_template("migration/expired.html", problem=exc.message), exc.status
    form = MergeForm() if merge_into else LinkForm(obj=row if request.method == "GET" else None)
    if form.validate_on_submit():
        data = form.data
        try:
            user, merged = service.activate(
                token, full_name=data.get("full_name") or "", phone=data.get("phone"), address=data.get("address"),
                company_name=data.get("company_name"), password=data.get("password"), confirm=data.get("confirm"),
                accept_terms=bool(data.get("accept_terms")), ip=_ip())
        except LinkProblem as exc:
            db.session.rollback()
            return render_template("migration/expired.html", problem=exc.message), 400
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            if merged:
                return render_template("migration/merged.html", masked=service.mask_email(user.email))
            session.clear()  # a fresh session for the new account, as at sign-in
            session.permanent = True
            g.pop("csrf_token", None)
            login_user(user)
            accounts.signed_in(user, ip=_ip(), mfa=False)
            db.session.commit()
            flash(_("Welcome to eBiz. Your old account has moved here."), "success")
            return redirect(url_for("migration.welcome"))
    return render_template("migration/link.html", form=form, row=row, merge_into=merge_into,
                           is_company=row.kind == Kind.COMPANY)


@bp.get("/claim")
@login_required
def claim():
    url = service.ask_url_for_user(current_user) if current_user.role == Role.CUSTOMER else None
    if url:
        return redirect(url)
    return render_template("migration/claim_none.html")


@bp.get("/welcome")
@login_required
def welcome():
    return render_template("migration/welcome.html", summary=service.migrated_summary(current_user))


# ---------------------------------------------------------------------------- administrators

@bp.get("/admin")
@roles_required(Role.ADMIN)
def dashboard():
    form = SearchForm(request.args)
    rows = service.search(current_user, form.q.data) if form.q.data else []
    return render_template("migration/dashboard.html", stats=service.dashboard(current_user), form=form, rows=rows,
                           requests=service.support_requests(current_user))


@bp.get("/admin/export.csv")
@roles_required(Role.ADMIN)
def export():
    body = service.export_csv(current_user)
    db.session.commit()  # the export's audit event
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=legacy-migration.csv"})


@bp.route("/admin/<int:legacy_pk>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def account(legacy_pk: int):
    """A legacy account; correcting its email needs the support ticket linked to this account (the
    one its "no longer in use" opened), assigned to this administrator: the support desk checks the
    ticket and records the action on it, the migration domain makes the change, the ticket says so."""
    row = service.get_for_admin(current_user, legacy_pk)
    form = CorrectEmailForm()
    if request.method == "GET" and request.args.get("ticket"):
        form.ticket.data = request.args["ticket"][:30]  # the link from the ticket's page
    if form.validate_on_submit():
        admin = current_user._get_current_object()
        try:
            ticket = support.ticket_for_action(form.ticket.data, admin, action="legacy_email_correction",
                                               target=f"legacy:{row.legacy_id}", linked=("legacy", row.legacy_id))
            service.correct_email(admin, legacy_pk, new_email=form.email.data, reason=form.reason.data,
                                  ticket_reference=ticket.reference, ip=_ip())
            support.action_done(ticket, admin, body=f"The email of old-system account {row.legacy_id} was "
                                                    f"corrected to {service.mask_email(row.email)} (reason: "
                                                    f"{' '.join(form.reason.data.split())}) and a new "
                                                    f"migration link was sent to it.")
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("The email is corrected and a new migration link is on its way."), "success")
            return redirect(url_for("migration.account", legacy_pk=legacy_pk))
    return render_template("migration/account.html", row=row, form=form, resend=ConfirmForm(),
                           masked=service.mask_email(row.email))


@bp.get("/admin/old/<legacy_id>")
@roles_required(Role.ADMIN)
def account_by_old_id(legacy_id: str):
    """From a support ticket linked to an old-system account: that account's page, ticket filled in."""
    row = service.get_by_legacy_id(current_user, legacy_id)
    return redirect(url_for("migration.account", legacy_pk=row.id, ticket=request.args.get("ticket", "")[:30] or None))


@bp.post("/admin/<int:legacy_pk>/resend")
@roles_required(Role.ADMIN)
def resend(legacy_pk: int):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.resend_link(current_user, legacy_pk, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("A new migration link is on its way; the earlier one no longer works."), "success")
    return redirect(url_for("migration.account", legacy_pk=legacy_pk))
