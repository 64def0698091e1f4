"""Payments pages: status/return page, "check again", receipts, history, callbacks, staff queues."""

from datetime import date
from functools import wraps

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..accounts.decorators import mfa_verified, roles_required
from ..accounts.models import Role
from ..clock import to_local, utcnow
from ..db import begin_write
from ..errors import EbizError
from ..extensions import csrf, db
from ..forms import page_arg
from . import console, refunds, service
from .banks import bank_name
from .forms import CheckAgainForm, GatewayRefundForm, ResolveRefundForm, ReviewedForm
from .models import INTENT_STATUS_LABELS, IntentStatus, PaymentIntent, RefundRequest, RefundStatus

bp = Blueprint("payments", __name__, url_prefix="/payments")
STAFF = (Role.ADMIN, Role.SUPPORT, Role.COUNTER)
PAGE_SIZE = 25
CALLBACK_MAX_BYTES = 64 * 1024


@bp.app_template_global()
def payment_bank_name(code):
    return bank_name(code)


@bp.app_template_global("agency_issuer")
def _agency_issuer():
    """For invoices, receipts and credit notes of any domain: the issuer (config AGENCY_*)."""
    from .receipts import agency_issuer

    return agency_issuer()


@bp.app_template_global("customer_rows")
def _customer_rows(intent):
    """(label, value) rows naming who paid an intent, as its receipt was issued."""
    from .receipts import customer_rows, payer_of

    return customer_rows(payer_of(intent))


def _ip():
    return request.remote_addr


@bp.get("/history")
@login_required
def history():
    page = page_arg()
    q = service.history_query(current_user)
    rows = db.session.scalars(q.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    intents = rows[:PAGE_SIZE]
    return render_template("payments/history.html", intents=intents, page=page,
                           has_next=len(rows) > PAGE_SIZE, descriptions=service.describe_all(intents))


def _writes(view):
    """This GET may settle a payment: take the SQLite write lock before anything is read
    (a SQLite reader cannot safely become a writer); a no-op on PostgreSQL."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        begin_write()
        return view(*args, **kwargs)

    return wrapper


@bp.get("/<reference>")
@_writes
@login_required
def status(reference):
    """Where the gateway sends the customer back. The query string is never trusted: we show
    the stored status, and when it is still pending we ask the gateway ourselves."""
    intent = service.get_for_user(current_user, reference, as_staff=mfa_verified())
    if intent.status == IntentStatus.PENDING and intent.is_online:
        service.refresh(intent, source="return", returned=bool(request.args))
        db.session.commit()
    else:
        db.session.rollback()
    intent = service.get_for_user(current_user, reference, as_staff=mfa_verified())
    return render_template("payments/status.html", intent=intent, form=CheckAgainForm(),
                           pending=service.pending_text(intent), failure=service.failure_text(intent),
                           describe=service.describe(intent), next_url=service.return_url(intent),
                           closed=service.unpayable(intent) if intent.status == IntentStatus.PENDING else None,
                           returned=service.returned(intent))


@bp.post("/<reference>/check")
@login_required
def check_again(reference):
    form = CheckAgainForm()
    if not form.validate_on_submit():
        abort(400)
    intent = service.get_for_user(current_user, reference, as_staff=mfa_verified())
    outcome = service.refresh(intent, source="check", returned=True)
    db.session.commit()
    if outcome == "unavailable":
        flash(_("The bank could not be reached just now. We will keep trying; please check again later."),
              "warning")
    return redirect(url_for(".status", reference=reference))


@bp.post("/<reference>/continue")
@login_required
def go(reference):
    """Back to the gateway's page for a payment not yet made (the customer closed it)."""
    form = CheckAgainForm()
    if not form.validate_on_submit():
        abort(400)
    intent = service.get_for_user(current_user, reference, as_staff=mfa_verified())
    try:
        url = service.start_online(intent)
    except EbizError as exc:
        flash(str(exc.message), "error")
        return redirect(url_for(".status", reference=reference))
    return redirect(url)


@bp.post("/<reference>/abandon")
@login_required
def abandon(reference):
    """The customer gives up a payment they never made at the bank, to pay another way."""
    form = CheckAgainForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = service.abandon(current_user, reference, ip=_ip())
        intent = service.get_for_user(current_user, reference)
        back = service.return_url(intent) or url_for(".status", reference=reference)
        db.session.commit()
    except EbizError as exc:
        db.session.commit()  # what the gateway said is kept (its event, a settlement)
        flash(str(exc.message), "error")
        return redirect(url_for(".status", reference=reference))
    if outcome == "abandoned":
        flash(_("That payment is abandoned. You can choose another way to pay."), "success")
    return redirect(back)


@bp.get("/<reference>/receipt")
@login_required
def receipt(reference):
    intent = service.receipt_for(current_user, reference, as_staff=mfa_verified())
    return render_template("payments/receipt.html", intent=intent, describe=service.describe(intent),
                           next_url=service.return_url(intent))


@bp.get("/<reference>/receipt.pdf")
@login_required
def receipt_pdf(reference):
    from .receipts import receipt_pdf as make_pdf

    intent = service.receipt_for(current_user, reference, as_staff=mfa_verified())
    data = make_pdf(intent, service.describe(intent))
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{intent.receipt_no}.pdf"'})


@bp.post("/callback/<gateway>")
@csrf.exempt
def callback(gateway):
    """Server-to-server notification from the gateway: signature first, then apply once."""
    if (request.content_length or 0) > CALLBACK_MAX_BYTES:
        abort(413)  # a gateway message is a few hundred bytes; nobody unsigned may fill our memory
    body = request.stream.read(CALLBACK_MAX_BYTES + 1)
    if len(body) > CALLBACK_MAX_BYTES:
        abort(413)
    outcome = service.handle_callback(gateway, body, request.headers, ip=_ip())
    db.session.commit()
    current_app.logger.info("payment callback via %s: %s", gateway, outcome)
    if outcome == "rejected":
        return {"status": "rejected"}, 400
    return {"status": "ok", "outcome": outcome}


# ------------------------------------------------------------------ staff

@bp.get("/staff/refunds")
@roles_required(Role.ADMIN, Role.SUPPORT)
def refund_queue():
    show = request.args.get("status", RefundStatus.OPEN)
    q = select(RefundRequest).order_by(RefundRequest.created_at)
    if show in RefundStatus.ALL:
        q = q.where(RefundRequest.status == show)
    return render_template("payments/staff_refunds.html", refunds=db.session.scalars(q.limit(200)).all(),
                           show=show, form=ResolveRefundForm(), gateway_form=GatewayRefundForm(),
                           via_gateway=refunds.can_use_gateway)


@bp.post("/staff/refunds/<reference>")
@roles_required(Role.ADMIN, Role.SUPPORT)
def resolve_refund(reference):
    form = ResolveRefundForm()
    if not form.validate_on_submit():
        flash(_("Say how the money was returned."), "error")
        return redirect(url_for(".refund_queue"))
    try:
        service.resolve_refund(current_user, reference, form.note.data, ip=_ip())
    except EbizError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for(".refund_queue"))
    db.session.commit()
    flash(_("Refund %(ref)s marked as returned.", ref=reference), "success")
    return redirect(url_for(".refund_queue"))


@bp.post("/staff/refunds/<reference>/gateway")
@roles_required(Role.ADMIN, Role.SUPPORT)
def refund_via_gateway(reference):
    """Approve a queued refund and send it back through the gateway the customer paid with."""
    if not GatewayRefundForm().validate_on_submit():
        abort(400)
    try:
        refunds.approve(current_user, reference, ip=_ip())
    except EbizError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for(".refund_queue"))
    db.session.commit()  # approved (and audited) before the gateway is asked: a second click is refused
    outcome = refunds.issue(reference)
    db.session.commit()
    if outcome == "unavailable":
        flash(_("The gateway could not be reached: the refund will be sent again. Check back shortly."), "warning")
    elif outcome == refunds.FAILED:
        flash(_("The gateway refused refund %(ref)s: return the money by bank transfer.", ref=reference), "error")
    elif outcome == "applied":
        flash(_("Refund %(ref)s returned through the gateway.", ref=reference), "success")
    else:
        flash(_("Refund %(ref)s sent to the gateway; it completes when the gateway confirms it.", ref=reference),
              "success")
    return redirect(url_for(".refund_queue"))


@bp.get("/staff/reconcile")
@roles_required(Role.ADMIN)
def reconcile_console():
    """Administrators' reconciliation console (payments.console)."""
    today = to_local(utcnow()).date()
    day, day_error = today, None
    raw = (request.args.get("day") or "").strip()
    if raw:
        try:
            day = date.fromisoformat(raw[:10])
            if not date(2000, 1, 1) <= day <= today:
                raise ValueError
        except ValueError:
            day, day_error = today, _("Enter a date from 2000 up to today (YYYY-MM-DD).")
    overdue = console.overdue()
    return render_template("payments/staff_reconcile.html", overdue=overdue, unsettled=console.paid_unsettled(),
                           duplicates=console.duplicates(), refunds=console.refunds_in_flight(),
                           settlement=console.settlement(day), day=day, day_raw=raw or day.isoformat(),
                           day_error=day_error, form=CheckAgainForm(), describe=service.describe_all(overdue))


@bp.post("/staff/reconcile/<reference>/requery")
@roles_required(Role.ADMIN)
def requery_now(reference):
    if not CheckAgainForm().validate_on_submit():
        abort(400)
    outcome = console.requery_now(current_user, reference, ip=_ip())
    db.session.commit()
    intent = service.get_for_user(current_user, reference, as_staff=True)
    if outcome == "unavailable":
        flash(_("The gateway could not be reached. Try again later."), "warning")
    else:
        flash(_("%(ref)s asked again: now %(status)s.", ref=reference,
                status=INTENT_STATUS_LABELS[intent.status]), "success")
    return redirect(url_for(".reconcile_console"))


@bp.get("/staff/review")
@roles_required(Role.ADMIN, Role.SUPPORT)
def review_queue():
    q = select(PaymentIntent).where(PaymentIntent.needs_review.is_(True)).order_by(PaymentIntent.succeeded_at)
    pending = select(PaymentIntent).where(PaymentIntent.status == IntentStatus.PENDING) \
        .order_by(PaymentIntent.created_at).limit(100)
    return render_template("payments/staff_review.html", flagged=db.session.scalars(q.limit(200)).all(),
                           pending=db.session.scalars(pending).all(), form=ReviewedForm(),
                           describe=service.describe)


@bp.post("/staff/review/<reference>")
@roles_required(Role.ADMIN, Role.SUPPORT)
def mark_reviewed(reference):
    if not ReviewedForm().validate_on_submit():
        abort(400)
    service.mark_reviewed(current_user, reference, ip=_ip())
    db.session.commit()
    return redirect(url_for(".review_queue"))
