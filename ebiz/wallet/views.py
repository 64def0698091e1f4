"""Wallet pages: balance and top-up, statement (with CSV), staff adjustments (maker-checker)."""

import csv
import io
import secrets
from datetime import datetime, time, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..accounts.decorators import roles_required
from ..accounts.models import User
from ..clock import format_local, from_local
from ..errors import EbizError
from ..extensions import db
from ..forms import show_error
from ..money import MoneyFormatError, parse_ringgit, sen_to_decimal_str
from ..payments import service as payments
from . import service
from .forms import AdjustmentForm, DecideForm, StatementFilterForm, TopupForm
from .models import AdjustmentStatus, WalletAdjustment

bp = Blueprint("wallet", __name__, url_prefix="/wallet")


@bp.get("/")
@login_required
def home():
    if not service.has_wallet(current_user):
        return render_template("wallet/no_wallet.html"), 403 if current_user.is_staff else 200
    _opening, rows, closing = service.statement(current_user)
    return render_template("wallet/home.html", balance=closing, recent=list(reversed(rows[-10:])))


@bp.route("/topup", methods=["GET", "POST"])
@login_required
def topup():
    if not service.has_wallet(current_user):
        return render_template("wallet/no_wallet.html")
    form = TopupForm()
    if request.method == "GET":
        form.nonce.data = secrets.token_urlsafe(16)
    if form.validate_on_submit():
        try:
            amount = parse_ringgit(form.amount.data)
        except MoneyFormatError:
            form.amount.errors = [*form.amount.errors, _("Enter an amount in ringgit, e.g. 50 or 50.00.")]
        else:
            try:
                intent = service.start_topup(current_user, amount, method=form.method.data,
                                             bank_code=form.bank_code.data or None,
                                             idempotency_key=f"topup:{form.nonce.data}")
                url = payments.start_online(intent)
            except EbizError as exc:
                db.session.rollback()
                show_error(form, exc)
            else:
                db.session.commit()
                return redirect(url)
    return render_template("wallet/topup.html", form=form, balance=service.balance(current_user))


def _local_bounds(d_from, d_to):
    """Local (MYT) dates -> naive UTC datetimes [since, until)."""
    since = from_local(datetime.combine(d_from, time.min)) if d_from else None
    until = from_local(datetime.combine(d_to + timedelta(days=1), time.min)) if d_to else None
    return since, until


@bp.get("/statement")
@login_required
def statement():
    if not service.has_wallet(current_user):
        return render_template("wallet/no_wallet.html")
    form = StatementFilterForm(request.args)
    if not form.validate():  # an unreadable or inverted date filters nothing: the message says why
        for field in (form.date_from, form.date_to):
            if field.errors:
                field.data = None
    since, until = _local_bounds(form.date_from.data, form.date_to.data)
    opening, rows, closing = service.statement(current_user, since=since, until=until)
    if request.args.get("format") == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["date_myt", "type", "description", "amount_rm", "balance_rm"])
        w.writerow(["", "opening", "", "", sen_to_decimal_str(opening)])
        for r in rows:
            w.writerow([format_local(r["at"], "%Y-%m-%d %H:%M:%S"), r["kind"], r["description"],
                        sen_to_decimal_str(r["amount_sen"]), sen_to_decimal_str(r["balance_sen"])])
        return Response(buf.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="wallet-statement.csv"'})
    return render_template("wallet/statement.html", form=form, opening=opening, rows=rows, closing=closing)


# ------------------------------------------------------------------ staff

@bp.route("/staff/adjustments", methods=["GET", "POST"])
@roles_required(*service.ADJUSTER_ROLES)
def adjustments():
    form = AdjustmentForm()
    if form.validate_on_submit():
        customer = db.session.scalar(select(User).where(func.lower(User.email) == form.customer.data.strip().lower()))
        try:
            raw = form.amount.data.strip()
            negative = raw.startswith("-")
            amount = parse_ringgit(raw.lstrip("-").strip()) * (-1 if negative else 1)
        except MoneyFormatError:
            form.amount.errors = [*form.amount.errors, _("Enter an amount in ringgit, e.g. 50 or -12.50.")]
        else:
            if customer is None:
                form.customer.errors = [*form.customer.errors, _("No customer has this email.")]
            else:
                try:
                    adj = service.propose_adjustment(current_user, customer, amount, form.reason.data,
                                                     ip=request.remote_addr)
                except EbizError as exc:
                    db.session.rollback()
                    show_error(form, exc)
                else:
                    db.session.commit()
                    flash(_("Adjustment %(ref)s proposed: another staff member must approve it.",
                            ref=adj.reference), "success")
                    return redirect(url_for(".adjustments"))
    proposed = db.session.scalars(select(WalletAdjustment).where(WalletAdjustment.status == AdjustmentStatus.PROPOSED)
                                  .order_by(WalletAdjustment.created_at)).all()
    decided = db.session.scalars(select(WalletAdjustment).where(WalletAdjustment.status != AdjustmentStatus.PROPOSED)
                                 .order_by(WalletAdjustment.decided_at.desc()).limit(50)).all()
    return render_template("wallet/staff_adjustments.html", form=form, proposed=proposed, decided=decided,
                           decide=DecideForm())


@bp.post("/staff/adjustments/<reference>")
@roles_required(*service.ADJUSTER_ROLES)
def decide(reference):
    form = DecideForm()
    if not form.validate_on_submit() or form.decision.data not in ("approve", "reject"):
        abort(400)
    try:
        adj = service.decide_adjustment(current_user, reference, approve=form.decision.data == "approve",
                                        ip=request.remote_addr)
    except EbizError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        if adj.status == AdjustmentStatus.APPROVED:
            flash(_("Adjustment %(ref)s approved: the wallet balance has changed.", ref=adj.reference), "success")
        else:
            flash(_("Adjustment %(ref)s rejected: no money moved.", ref=adj.reference), "success")
    return redirect(url_for(".adjustments"))
