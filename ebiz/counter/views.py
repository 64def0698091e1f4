"""The counter desk: customer lookup, identity check and Primary upgrade."""

from babel.dates import format_time
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts import search
from ..accounts import service as accounts
from ..accounts.decorators import roles_required
from ..accounts.models import Role
from ..errors import EbizError, Forbidden, NotFound
from ..extensions import db
from ..forms import show_error
from ..money import MoneyFormatError, parse_ringgit
from ..wallet import service as wallet
from . import service
from .forms import CounterForm, FindCustomerForm, TopupForm, UpgradeForm

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


def _customer_page(counter, user, *, form=None, topup_form=None, status=200):
    topup_form = topup_form or (TopupForm() if counter.is_hq and wallet.has_wallet(user) else None)
    balance = wallet.balance(user) if wallet.has_wallet(user) else None
    return render_template("counter/customer.html", counter=counter, user=user, form=form or UpgradeForm(),
                           topup_form=topup_form, balance=balance), status


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
