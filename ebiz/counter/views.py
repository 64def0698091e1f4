"""The counter desk: customer lookup, identity check and Primary upgrade."""

import csv
import io
import secrets

from babel.dates import format_time
from flask import Blueprint, Response, flash, has_request_context, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..accounts import search
from ..accounts import service as accounts
from ..accounts.decorators import roles_required
from ..accounts.models import Role
from ..catalog import service as catalog
from ..clock import format_local, to_local, utcnow
from ..companies import service as companies
from ..errors import EbizError, Forbidden, NotFound
from ..extensions import db
from ..forms import int_id, show_error
from ..money import MoneyFormatError, format_sen, parse_ringgit
from ..wallet import service as wallet
from . import service
from .forms import (
    CollectForm,
    CompanyUpgradeForm,
    CounterForm,
    CsrfForm,
    DayEndForm,
    FindCustomerForm,
    RedeemForm,
    SaleForm,
    TopupForm,
    UpgradeForm,
)

bp = Blueprint("counter", __name__, url_prefix="/counter")


def _customer(user_id: int):
    user = accounts.get_user(user_id)
    if user.role != Role.CUSTOMER:
        raise NotFound()
    return user


@bp.get("/locations")
def locations():
    """Public: where the counters are (for the identity check, runners and HQ top-ups)."""
    return render_template("counter/locations.html", counters=service.open_counters())


@bp.app_template_global("counter_hours")
def counter_hours(counter) -> str:
    """'Monday to Friday, 8:00 AM – 5:00 PM' in the reader's language ('' when not set)."""
    if not counter.has_hours:
        return ""
    locale = get_locale()
    return "{days}, {opens} – {closes}".format(
        days=service.OPEN_DAYS[counter.open_days], opens=format_time(counter.opens_at, "short", locale=locale),
        closes=format_time(counter.closes_at, "short", locale=locale))


@bp.get("/admin/")
@roles_required(Role.ADMIN)
def admin_counters():
    return render_template("counter/admin_list.html", counters=service.all_counters())


@bp.route("/admin/<int:counter_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_counter(counter_id: int):
    counter = service.get_counter(counter_id)
    form = CounterForm(obj=counter)
    status = 200
    if form.validate_on_submit():
        try:
            service.save_counter(current_user._get_current_object(), counter, name=form.name.data,
                                 state=form.state.data, address=form.address.data, phone=form.phone.data,
                                 open_days=form.open_days.data, opens_at=form.opens_at.data,
                                 closes_at=form.closes_at.data, active=form.active.data, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            status = 400
        else:
            db.session.commit()
            flash(_("Counter %(code)s saved.", code=counter.code), "success")
            return redirect(url_for("counter.admin_counters"))
    elif form.is_submitted():
        status = 400
    return render_template("counter/admin_counter.html", counter=counter, form=form), status


@bp.get("/")
@roles_required(Role.COUNTER)
def desk():
    counter = service.counter_of(current_user)
    form = FindCustomerForm(request.args)
    results = service.find_customers(form.q.data) if form.q.data else None
    return render_template("counter/desk.html", counter=counter, form=form, results=results, limit=search.LIMIT,
                           min_partial=search.MIN_PARTIAL, min_id_prefix=search.MIN_ID_PREFIX)


@bp.route("/customers/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.COUNTER)
def customer(user_id: int):
    counter = service.counter_of(current_user)
    user = _customer(user_id)
    form = UpgradeForm()
    if form.validate_on_submit():
        try:
            service.verify_and_upgrade(current_user._get_current_object(), user, document_type=form.document_type.data,
                                       document_number=form.document_number.data, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s is now a Primary customer.", name=user.display_name), "success")
            return redirect(url_for("counter.customer", user_id=user.id))
    return _customer_page(counter, user, form=form)


def _customer_page(counter, user, *, form=None, topup_form=None, company_form=None, collect_form=None,
                   sale_form=None, status=200):
    topup_form = topup_form or (TopupForm() if counter.is_hq and wallet.has_wallet(user) else None)
    balance = wallet.balance(user) if wallet.has_wallet(user) else None
    representative = companies.current_representative(user) if companies.is_company(user) else None
    return render_template("counter/customer.html", counter=counter, user=user, form=form or UpgradeForm(),
                           topup_form=topup_form, balance=balance, representative=representative,
                           company_form=company_form or CompanyUpgradeForm(),
                           collect_form=collect_form or CollectForm(), sale_form=sale_form or _sale_form(),
                           ready=service.ready_lines(user, current_user)), status


@bp.post("/customers/<int:user_id>/company-upgrade")
@roles_required(Role.COUNTER)
def company_upgrade(user_id: int):
    """A company account becomes Primary with its representative or owner at the counter."""
    counter = service.counter_of(current_user)
    user = _customer(user_id)
    form = CompanyUpgradeForm()
    if form.validate_on_submit():
        try:
            service.verify_and_upgrade_company(
                current_user._get_current_object(), user, present=form.present.data,
                person_name=form.person_name.data, document_type=form.document_type.data,
                document_number=form.document_number.data, certificate_seen=form.certificate_seen.data,
                certificate_no=form.certificate_no.data, identity_check=form.identity_check.data,
                ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s is now a Primary customer.", name=user.display_name), "success")
            return redirect(url_for("counter.customer", user_id=user.id))
    return _customer_page(counter, user, company_form=form, status=400)


@bp.post("/customers/<int:user_id>/topup")
@roles_required(Role.COUNTER)
def topup(user_id: int):
    """A prepaid top-up paid at the HQ counter (the wallet service refuses every other counter)."""
    counter = service.counter_of(current_user)
    user = _customer(user_id)
    form = TopupForm()
    if form.validate_on_submit():
        try:
            amount = parse_ringgit(form.amount.data)
        except MoneyFormatError:
            form.amount.errors = [*form.amount.errors, _("Enter an amount in ringgit, for example 50.00.")]
        else:
            try:
                _posting, created = wallet.topup_at_counter(
                    staff=current_user._get_current_object(), customer=user, amount_sen=amount,
                    receipt_no=form.receipt_no.data, ip=request.remote_addr)
            except Forbidden:
                db.session.commit()  # only the refusal's audit event was written: keep it
                raise
            except EbizError as exc:
                db.session.rollback()
                show_error(form, exc)
            else:
                db.session.commit()
                if created:
                    flash(_("The wallet was topped up."), "success")
                else:
                    flash(_("Receipt %(no)s was already credited to this wallet: nothing was added again.",
                            no=form.receipt_no.data.strip().upper()), "warning")
                return redirect(url_for("counter.customer", user_id=user.id))
    return _customer_page(counter, user, topup_form=form, status=400)


# ------------------------------------------------------------------ runner sessions

RUNNER_SESSION_KEY = "runner_session"


@bp.app_context_processor
def _runner_banner():
    """Every page of a counter staff member acting for a company says so (base.html's banner)."""
    if not has_request_context() or RUNNER_SESSION_KEY not in session or current_user is None \
            or not current_user.is_authenticated or current_user.role != Role.COUNTER:
        return {}
    return {"acting_runner_session": service.active_runner_session(current_user, session.get(RUNNER_SESSION_KEY))}


@bp.route("/runners", methods=["GET", "POST"])
@roles_required(Role.COUNTER)
def runners():
    """A runner hands over the company's OTP: the company number, the OTP and the runner's document."""
    counter = service.counter_of(current_user)
    form = RedeemForm()
    status = 200
    if form.validate_on_submit():
        try:
            rs = service.open_runner_session(current_user._get_current_object(),
                                             company_reg_no=form.company_reg_no.data, code=form.code.data,
                                             runner_id_no=form.runner_id_no.data, ip=request.remote_addr)
        except companies.OtpRefused as exc:
            db.session.commit()  # the refused try stays on record and counts towards the lockout
            show_error(form, exc)
            status = 400
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            status = 400
        else:
            db.session.commit()
            session[RUNNER_SESSION_KEY] = rs.reference
            flash(_("Runner session opened: you are acting for %(company)s.", company=rs.company.display_name),
                  "success")
            return redirect(url_for("counter.runner_session", reference=rs.reference))
    elif request.method == "POST":
        status = 400
    return render_template("counter/runners.html", counter=counter, form=form), status


def _sale_form(data=None) -> SaleForm:
    form = SaleForm(data) if data is not None else SaleForm()
    form.item.choices = [SelectChoice(f"{p.id}:{s.id if s else ''}",
                                      f"{p.name} · {format_sen(p.price_sen)}" +
                                      (f" · {format_local(s.starts_at)} MYT, {s.venue}" if s else ""))
                         for p, s in catalog.counter_offer()]
    if not form.sale_key.data:
        form.sale_key.data = secrets.token_urlsafe(16)
    return form


def _item(value: str) -> tuple[int | None, int | None]:
    product, _sep, ts = (value or "").partition(":")
    return int_id(product), int_id(ts) if ts else None


def _runner_page(rs, *, sale_form=None, collect_errors=None, status=200):
    otp = rs.otp
    return render_template("counter/runner_session.html", rs=rs, otp=otp, company=rs.company,
                           lines=service.ready_lines(rs.company, current_user) if otp.may_collect else [],
                           sale_form=sale_form or _sale_form(), close_form=CsrfForm(),
                           sales=service.session_activity([otp.id]).get(otp.id, {}).get("sales", [])), status


@bp.get("/runners/<reference>")
@roles_required(Role.COUNTER)
def runner_session(reference: str):
    return _runner_page(service.runner_session(current_user._get_current_object(), reference))


@bp.post("/runners/<reference>/collect/<int:line_id>")
@roles_required(Role.COUNTER)
def runner_collect(reference: str, line_id: int):
    actor = current_user._get_current_object()
    rs = service.runner_session(actor, reference)
    if CsrfForm().validate_on_submit():
        try:
            service.collect(actor, rs.company, line_id, collected_by="runner", session=rs, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            if exc.status == 404:
                raise
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Handed over to the runner."), "success")
    return redirect(url_for("counter.runner_session", reference=rs.reference))


@bp.post("/runners/<reference>/sell")
@roles_required(Role.COUNTER)
def runner_sell(reference: str):
    actor = current_user._get_current_object()
    rs = service.runner_session(actor, reference)
    form = _sale_form()
    if form.validate_on_submit():
        sale = _sell(actor, rs.company, form, session=rs)
        if sale is not None:
            return redirect(url_for("counter.runner_session", reference=rs.reference))
    return _runner_page(rs, sale_form=form, status=400)


def _sell(actor, customer, form, *, session=None):
    """Run a sale from the form; the sale, or None with the errors on the form (nothing kept)."""
    product_id, session_id = _item(form.item.data)
    try:
        sale, created = service.sell(actor, customer, items=[(product_id, session_id, form.quantity.data)],
                                     method=form.method.data, approval_code=form.approval_code.data,
                                     sale_key=form.sale_key.data, session=session,
                                     terms_accepted=form.terms_accepted.data, ip=request.remote_addr)
    except EbizError as exc:
        db.session.rollback()
        if exc.field in ("product", "session_id"):
            exc.field = "item"
        elif (exc.field or "").startswith("licence_"):
            exc.field = "terms_accepted"
        elif exc.field == "cap":
            exc.field = "method"
        show_error(form, exc)
        return None
    db.session.commit()
    if created:
        flash(_("Sold: order %(ref)s, receipt %(no)s, %(amount)s.", ref=sale.order_reference, no=sale.receipt_no,
                amount=format_sen(sale.amount_sen)), "success")
    else:
        flash(_("This sale was already recorded (order %(ref)s): nothing was charged again.",
                ref=sale.order_reference), "warning")
    return sale


@bp.post("/runners/<reference>/close")
@roles_required(Role.COUNTER)
def runner_close(reference: str):
    actor = current_user._get_current_object()
    if CsrfForm().validate_on_submit():
        try:
            service.close_runner_session(actor, reference, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The runner session is closed."), "success")
        session.pop(RUNNER_SESSION_KEY, None)
    return redirect(url_for("counter.runners"))


# ------------------------------------------------------------------ customers present: collection and sales

@bp.post("/customers/<int:user_id>/collect/<int:line_id>")
@roles_required(Role.COUNTER)
def collect(user_id: int, line_id: int):
    counter = service.counter_of(current_user)
    user = _customer(user_id)
    form = CollectForm()
    if form.validate_on_submit():
        try:
            service.collect(current_user._get_current_object(), user, line_id, collected_by=form.collected_by.data,
                            collector_id_no=form.collector_id_no.data, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            if exc.status == 404:
                raise
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Handed over."), "success")
            return redirect(url_for("counter.customer", user_id=user.id))
    return _customer_page(counter, user, collect_form=form, status=400)


@bp.post("/customers/<int:user_id>/sell")
@roles_required(Role.COUNTER)
def sell(user_id: int):
    counter = service.counter_of(current_user)
    user = _customer(user_id)
    form = _sale_form()
    if form.validate_on_submit() and _sell(current_user._get_current_object(), user, form) is not None:
        return redirect(url_for("counter.customer", user_id=user.id))
    return _customer_page(counter, user, sale_form=form, status=400)


# ------------------------------------------------------------------ day-end report

def _report():
    form = DayEndForm(request.args)
    day = form.day.data if form.validate() and form.day.data else to_local(utcnow()).date()
    form.day.data = day
    return form, service.day_end(current_user._get_current_object(), day)


@bp.get("/day-end")
@roles_required(Role.COUNTER)
def day_end():
    form, report = _report()
    return render_template("counter/day_end.html", form=form, report=report, methods=service.SALE_METHODS)


@bp.get("/day-end.csv")
@roles_required(Role.COUNTER)
def day_end_csv():
    _form, report = _report()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([_("Time (MYT)"), _("Order"), _("Receipt"), _("Customer"), _("Payment"), _("Approval code"),
                _("Runner session"), _("Staff"), _("Amount (RM)")])
    for s in report["sales"]:
        w.writerow([format_local(s.created_at), s.order_reference, s.receipt_no, _csv_safe(s.customer.display_name),
                    str(service.SALE_METHODS[s.method]), s.approval_code or "",
                    "" if s.runner_session_id is None else s.runner_session_id, _csv_safe(s.staff.email),
                    _plain(s.amount_sen)])
    for method, label in service.SALE_METHODS.items():
        w.writerow(["", "", "", "", str(label), "", "", _("Total"), _plain(report["totals"][method])])
    w.writerow(["", "", "", "", "", "", "", _("Total"), _plain(report["total"])])
    for cn in report["refunds"]:
        w.writerow([format_local(cn.issued_at), cn.invoice.order.reference, cn.number,
                    _csv_safe(cn.invoice.billed_name), _("Refund"), "", "", _csv_safe(cn.shown_reason),
                    _plain(-cn.amount_sen)])
    name = f"day-end-{report['counter'].code}-{report['day'].isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _plain(sen: int) -> str:
    """Sen as a plain ringgit amount for a spreadsheet: 1250 -> "12.50"."""
    sign = "-" if sen < 0 else ""
    whole, cents = divmod(abs(sen), 100)
    return f"{sign}{whole}.{cents:02d}"
