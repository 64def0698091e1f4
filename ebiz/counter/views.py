"""The counter desk: customer lookup, identity check and Primary upgrade."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
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
from .forms import FindCustomerForm, TopupForm, UpgradeForm

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
