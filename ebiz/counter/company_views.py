"""A company's own pages: its details and representative, and its runner OTPs (`/company/...`).

They sit with the counter desk because they compose the companies domain (mandates) with what
happened at the counters (which counter, which staff member, what was collected and bought).
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from ..clock import from_local
from ..companies import service as companies
from ..errors import EbizError
from ..extensions import db
from ..forms import int_id, show_error
from ..money import MoneyFormatError, parse_ringgit
from . import service
from .forms import CsrfForm, RunnerOtpForm

bp = Blueprint("company", __name__, url_prefix="/company")


def _company():
    return companies.require_company(current_user._get_current_object())


@bp.get("/")
@login_required
def home():
    company = _company()
    return render_template("companies/home.html", company=company,
                           representative=companies.current_representative(company),
                           history=companies.representative_history(company))


def _form(company) -> RunnerOtpForm:
    form = RunnerOtpForm()
    form.counter_id.choices = [SelectChoice("", _("Any counter"))] + [
        SelectChoice(str(c.id), c.name) for c in service.open_counters()]
    if not company.is_primary:
        del form.may_use_wallet
    return form


def _page(company, form, *, code=None, otp=None, status=200):
    otps = companies.otps_of(company)
    return render_template("companies/runners.html", company=company, form=form, otps=otps, code=code, new_otp=otp,
                           activity=service.session_activity([o.id for o in otps]), state=companies.otp_state), status


@bp.route("/runners", methods=["GET", "POST"])
@login_required
def runners():
    """Runner OTPs: create one (the code is shown on this response only), see each one's history."""
    company = _company()
    form = _form(company)
    if not form.validate_on_submit():
        return _page(company, form, status=400 if request.method == "POST" else 200)
    try:
        cap = parse_ringgit(form.cap.data or "0")
    except MoneyFormatError:
        form.cap.errors = [*form.cap.errors, _("Enter an amount in ringgit, for example 50.00.")]
        return _page(company, form, status=400)
    counter_id = int_id(form.counter_id.data)
    if form.counter_id.data and counter_id not in {c.id for c in service.open_counters()}:
        form.counter_id.errors = [*form.counter_id.errors, _("Choose a counter from the list.")]
        return _page(company, form, status=400)
    try:
        otp, code = companies.issue_otp(
            company, runner_name=form.runner_name.data, runner_id_type=form.runner_id_type.data,
            runner_id_no=form.runner_id_no.data,
            expires_at=from_local(form.expires_at.data) if form.expires_at.data else None,
            may_collect=form.may_collect.data, may_buy=form.may_buy.data,
            may_use_wallet=bool(form.may_use_wallet and form.may_use_wallet.data), cap_sen=cap,
            counter_id=counter_id, ip=request.remote_addr)
    except EbizError as exc:
        db.session.rollback()
        show_error(form, exc)
        return _page(company, form, status=400)
    db.session.commit()
    # The code is on this page only: never in a redirect, a flash (the signed cookie) or a log.
    return _page(company, _form(company), code=code, otp=otp)


@bp.post("/runners/<reference>/revoke")
@login_required
def revoke(reference: str):
    company = _company()
    if CsrfForm().validate_on_submit():
        try:
            companies.revoke_otp(company, reference, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            if exc.status == 404:
                raise
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The OTP was revoked: it can no longer be used."), "success")
    return redirect(url_for("company.runners"))
