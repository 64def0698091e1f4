"""The support desk's pages: customers at /support, agents at /support/desk."""

import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..accounts import service as accounts
from ..accounts.decorators import roles_required
from ..accounts.models import Role
from ..accounts.search import user_search
from ..clock import to_local, utcnow
from ..errors import EbizError, NotFound
from ..extensions import db, limiter
from ..forms import show_error, upload_limit
from ..money import MoneyFormatError, parse_ringgit
from . import service
from .forms import (
    AgentReplyForm,
    AllowanceForm,
    AssignForm,
    CannedForm,
    EmailChangeForm,
    LookupForm,
    MergeForm,
    NoteForm,
    RatingForm,
    RefundForm,
    ReplyForm,
    RequeryForm,
    RoutingForm,
    TicketForm,
)

bp = Blueprint("support", __name__, url_prefix="/support")
FOLLOWED = "support_followed"


@bp.app_context_processor
def _labels():
    return {"ticket_category": service.CATEGORY_LABELS, "ticket_status": service.STATUS_LABELS,
            "link_kinds": service.ALL_LINK_KINDS}


def _user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _followed() -> tuple[str, ...]:
    return tuple(session.get(FOLLOWED, ()))


def _uploads(form, identity: bool = False) -> list[service.Upload]:
    return [service.Upload(f.stream, f.filename or "", identity)
            for f in (form.files.data or []) if getattr(f, "filename", None)][:service.MAX_FILES]


# -- customers -----------------------------------------------------------------------------------

@bp.get("/")
def index():
    user = _user()
    tickets = service.tickets_of(user) if user is not None and not user.is_staff else []
    return render_template("support/index.html", tickets=tickets)


def _open_limit() -> str:
    return current_app.config["SUPPORT_OPEN_RATE_LIMIT"]


@bp.route("/new", methods=["GET", "POST"])
@upload_limit("SUPPORT_ATTACHMENT_MAX_BYTES", files=service.MAX_FILES)
@limiter.limit(_open_limit, methods=["POST"], scope="support-open")
def new():
    user = _user()
    form = TicketForm()
    form.subject.render_kw = {**(form.subject.render_kw or {}), "data-suggest-url": url_for("help.suggest")}
    if request.method == "GET":
        form.linked_kind.data = request.args.get("kind", "")[:20]
        form.linked_ref.data = request.args.get("ref", "")[:40]
        if form.linked_kind.data == "payment":
            form.category.data = "payment"
        elif form.linked_kind.data == "download":
            form.category.data = "downloads"
    if form.validate_on_submit():
        try:
            ticket = service.open_ticket(
                customer=user if user is not None and not user.is_staff else None, name=form.name.data or "",
                email=form.email.data, category=form.category.data, subject=form.subject.data,
                body=form.body.data, locale=str(get_locale()), linked_kind=form.linked_kind.data or None,
                linked_ref=form.linked_ref.data, uploads=_uploads(form), ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            if ticket.email_confirmed_at is None:
                return render_template("support/check_email.html", ticket=ticket)
            flash(_("Your request %(ref)s was received. We will answer by email.", ref=ticket.reference), "success")
            return redirect(url_for("support.view", ref=ticket.reference))
    return render_template("support/new.html", form=form, anonymous=user is None or user.is_staff), \
        400 if form.errors else 200


@bp.get("/confirm/<token>")
def confirm(token: str):
    try:
        ticket = service.confirm_email(token, ip=request.remote_addr)
    except EbizError as exc:
        db.session.rollback()
        return render_template("support/link_error.html", message=exc.message), 400
    db.session.commit()
    _follow(ticket.reference)
    flash(_("Thank you: your email is confirmed and request %(ref)s is with our team.", ref=ticket.reference),
          "success")
    return redirect(url_for("support.view", ref=ticket.reference))


@bp.get("/follow/<token>")
def follow(token: str):
    ticket = service.ticket_from_access_token(token)
    _follow(ticket.reference)
    return redirect(url_for("support.view", ref=ticket.reference))


def _follow(ref: str) -> None:
    refs = [r for r in session.get(FOLLOWED, []) if r != ref]
    session[FOLLOWED] = ([ref] + refs)[:20]


def _customer_ticket(ref: str):
    return service.ticket_for_customer(ref, _user(), _followed())


@bp.route("/t/<ref>", methods=["GET", "POST"])
@upload_limit("SUPPORT_ATTACHMENT_MAX_BYTES", files=service.MAX_FILES)
def view(ref: str):
    ticket = _customer_ticket(ref)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            service.customer_reply(ticket, author=_user(), body=form.body.data,
                                   uploads=_uploads(form, bool(form.identity.data)), ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            ticket = _customer_ticket(ref)
        else:
            db.session.commit()
            flash(_("Your reply was sent."), "success")
            return redirect(url_for("support.view", ref=ticket.reference))
    return render_template("support/view.html", ticket=ticket, form=form, rating_form=RatingForm(),
                           messages=service.public_messages(ticket)), 400 if form.errors else 200


@bp.post("/t/<ref>/rate")
def rate(ref: str):
    ticket = _customer_ticket(ref)
    form = RatingForm()
    if form.validate_on_submit():
        try:
            service.rate(ticket, _user(), rating=int(form.rating.data), comment=form.comment.data or "",
                         ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Thank you for your rating."), "success")
    else:
        flash(_("Choose from 1 to 5."), "error")
    return redirect(url_for("support.view", ref=ticket.reference))


@bp.get("/t/<ref>/files/<token>")
def attachment(ref: str, token: str):
    ticket = _customer_ticket(ref)
    try:
        att = service.attachment_for(ticket, token, _user(), as_agent=False, ip=request.remote_addr)
    except EbizError:
        abort(404)
    return service.serve_attachment(att)


# -- agents ----------------------------------------------------------------------------------------

@bp.get("/desk")
@roles_required(Role.SUPPORT, Role.ADMIN)
def desk():
    which = request.args.get("q_view", "all")
    if which not in service.QUEUE_FILTERS:
        which = "all"
    category = request.args.get("category") or None
    lookup = LookupForm(request.args)
    customers = None
    if lookup.q.data:
        customers = db.session.scalars(user_search(lookup.q.data, role=Role.CUSTOMER).limit(50)).all()
    found = service.find_tickets(request.args.get("t", ""))
    return render_template("support/desk.html", tickets=service.queue(current_user, which, category),
                           which=which, category=category, form=lookup, results=customers, found=found,
                           t=request.args.get("t", "")[:100],
                           agent_names={a.id: a.full_name for a in service.assignees()})


def _agent_ticket(ref: str):
    try:
        return service.ticket_for_agent(ref, current_user)
    except NotFound:
        abort(404)


def _agent_forms(ticket, **overrides):
    assign = AssignForm(assignee=str(ticket.assignee_id or ""))
    assign.assignee.choices = [SelectChoice("", "—")] + [SelectChoice(str(a.id), a.full_name)
                                                         for a in service.assignees()]
    forms = {"reply_form": AgentReplyForm(), "note_form": NoteForm(), "assign_form": assign,
             "merge_form": MergeForm(), "allowance_form": AllowanceForm(), "requery_form": RequeryForm(),
             "email_form": EmailChangeForm(), "refund_form": RefundForm()}
    forms.update(overrides)
    return forms


def _agent_page(ticket, status: int = 200, **overrides):
    return render_template("support/agent_ticket.html", ticket=ticket, canned=service.canned_replies(),
                           actions=service.actions_of(ticket), identity_docs=service.identity_documents(ticket),
                           others=service.customers_tickets_for_agent(ticket.customer_id)
                           if ticket.customer_id else [],
                           customer=accounts.get_user(ticket.customer_id) if ticket.customer_id else None,
                           **_agent_forms(ticket, **overrides)), status


@bp.get("/desk/t/<ref>")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_view(ref: str):
    return _agent_page(_agent_ticket(ref))


def _act(ref: str, form_name: str, form, run, done: str):
    """Validate `form`, run the service call, commit and go back to the ticket; else show the error."""
    ticket = _agent_ticket(ref)
    if form.validate_on_submit():
        try:
            run(ticket, form)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            return _agent_page(_agent_ticket(ref), 400, **{form_name: form})
        db.session.commit()
        flash(done, "success")
        return redirect(url_for("support.agent_view", ref=ticket.reference))
    return _agent_page(ticket, 400, **{form_name: form})


def _me():
    return current_user._get_current_object()


@bp.post("/desk/t/<ref>/reply")
@upload_limit("SUPPORT_ATTACHMENT_MAX_BYTES", files=service.MAX_FILES)
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_reply(ref: str):
    return _act(ref, "reply_form", AgentReplyForm(), lambda t, f: service.agent_reply(
        t, _me(), body=f.body.data, next_status=f.next_status.data, uploads=_uploads(f), ip=request.remote_addr),
        _("The reply was sent to the customer."))


@bp.post("/desk/t/<ref>/note")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_note(ref: str):
    return _act(ref, "note_form", NoteForm(), lambda t, f: service.add_note(
        t, _me(), body=f.body.data, ip=request.remote_addr), _("The note was added."))


@bp.post("/desk/t/<ref>/assign")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_assign(ref: str):
    def run(t, f):
        who = None
        if f.assignee.data:
            who = next((a for a in service.assignees() if str(a.id) == f.assignee.data), None)
            if who is None:
                raise service.ValidationError(_("Choose a support agent."), field="assignee")
        service.assign(t, _me(), who, ip=request.remote_addr)

    return _act(ref, "assign_form", AssignForm(), run, _("The ticket was assigned."))


@bp.post("/desk/t/<ref>/merge")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_merge(ref: str):
    return _act(ref, "merge_form", MergeForm(), lambda t, f: service.merge(
        t, f.into.data, _me(), ip=request.remote_addr), _("The ticket was merged."))


@bp.post("/desk/t/<ref>/allowance")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_allowance(ref: str):
    return _act(ref, "allowance_form", AllowanceForm(), lambda t, f: service.adjust_download(
        t.reference, _me(), entitlement_ref=f.entitlement_ref.data, add_downloads=f.add_downloads.data or 0,
        extend_days=f.extend_days.data or 0, reason=f.reason.data, ip=request.remote_addr),
        _("The allowance was changed."))


@bp.post("/desk/t/<ref>/requery")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_requery(ref: str):
    return _act(ref, "requery_form", RequeryForm(), lambda t, f: service.requery_payment(
        t.reference, _me(), payment_ref=f.payment_ref.data, ip=request.remote_addr),
        _("The payment was checked with the bank; see the ticket's history for the answer."))


@bp.post("/desk/t/<ref>/email-change")
@upload_limit("SUPPORT_ATTACHMENT_MAX_BYTES", files=service.MAX_FILES)
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_email_change(ref: str):
    return _act(ref, "email_form", EmailChangeForm(), lambda t, f: service.request_email_change(
        t.reference, _me(), identity_number=f.identity_number.data, new_email=f.new_email.data,
        ip=request.remote_addr), _("A confirmation link was sent to the new address."))


@bp.post("/desk/t/<ref>/refund")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_refund(ref: str):
    def run(t, f):
        try:
            amount = parse_ringgit(f.amount.data)
        except MoneyFormatError:
            raise service.ValidationError(_("Enter an amount in ringgit, such as 12.50."), field="amount") from None
        service.refund_payment(t.reference, _me(), payment_ref=f.payment_ref.data, amount_sen=amount,
                               note=f.note.data, ip=request.remote_addr)

    return _act(ref, "refund_form", RefundForm(), run, _("The refund is on the refund queue."))


@bp.get("/email/<token>")
def confirm_email_change(token: str):
    try:
        service.confirm_email_change(token, ip=request.remote_addr)
    except EbizError as exc:
        db.session.rollback()
        return render_template("support/link_error.html", message=exc.message), 400
    db.session.commit()
    flash(_("Your new email address is confirmed. Sign in with it."), "success")
    return redirect(url_for("accounts.login"))


@bp.get("/desk/t/<ref>/files/<token>")
@roles_required(Role.SUPPORT, Role.ADMIN)
def agent_attachment(ref: str, token: str):
    ticket = _agent_ticket(ref)
    try:
        att = service.attachment_for(ticket, token, _me(), as_agent=True, ip=request.remote_addr)
    except NotFound:
        abort(404)
    except EbizError:
        db.session.commit()  # keep the audit event of the refused look
        abort(403)
    db.session.commit()  # the audit event of the look
    return service.serve_attachment(att)


@bp.route("/desk/canned", methods=["GET", "POST"])
@roles_required(Role.SUPPORT, Role.ADMIN)
def canned():
    form = CannedForm()
    if form.validate_on_submit():
        try:
            service.save_canned_reply(_me(), title=form.title.data, body_en=form.body_en.data,
                                      body_ms=form.body_ms.data, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("The canned reply was saved."), "success")
            return redirect(url_for("support.canned"))
    return render_template("support/canned.html", form=form, replies=service.canned_replies()), \
        400 if form.errors else 200


def _report_month() -> tuple[int, int]:
    text = request.args.get("month", "")[:7]
    try:
        year, month = (int(x) for x in text.split("-"))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    now = to_local(utcnow())
    return now.year, now.month


@bp.get("/desk/report")
@roles_required(Role.SUPPORT, Role.ADMIN)
def report():
    year, month = _report_month()
    figures = service.monthly_report(year, month)
    return render_template("support/report.html", figures=figures, month=f"{year:04d}-{month:02d}")


@bp.get("/desk/report.csv")
@roles_required(Role.SUPPORT, Role.ADMIN)
def report_csv():
    year, month = _report_month()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["month", "category", "opened", "answered", "first_response_within_sla", "resolved",
                "resolved_within_sla", "rated", "average_rating"])
    for f in service.monthly_report(year, month):
        w.writerow([f"{year:04d}-{month:02d}", f.category, f.opened, f.answered, f.first_met, f.resolved,
                    f.resolution_met, f.rated, "" if f.rating is None else f.rating])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="support-{year:04d}-{month:02d}.csv"'})


@bp.route("/desk/routing", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def routing():
    form = RoutingForm()
    staff = service.agents()
    if form.validate_on_submit():
        table = {}
        for agent in staff:
            table[agent.id] = set(request.form.getlist(f"r-{agent.id}"))
        try:
            service.set_routing(_me(), table, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Routing was saved."), "success")
            return redirect(url_for("support.routing"))
    return render_template("support/routing.html", form=form, agents=staff, table=service.routing_table())
