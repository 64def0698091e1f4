"""Orders pages: cart, checkout, my orders, order page with payment and cancellation,
invoices and credit notes (screen, print, PDF), my training, and the staff fulfilment desk."""

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..accounts.decorators import mfa_verified, roles_required
from ..accounts.models import Role
from ..catalog.forms import CancelSessionForm, SessionForm
from ..catalog.models import TrainingSession
from ..clock import from_local, to_local
from ..counters.models import Counter
from ..errors import EbizError
from ..extensions import db
from ..forms import int_id, large_upload, page_arg, show_error
from ..licensing.service import get_licence
from ..main_views import safe_next
from ..payments import service as payments
from ..payments.forms import CheckAgainForm
from ..payments.receipts import agency_issuer
from ..wallet import service as wallet
from . import pdf, service
from .forms import AddToCartForm, AttachForm, CancelForm, CartItemForm, CheckoutForm, MarkLineForm, PayForm
from .models import CreditNote, LineStatus, Order, OrderLine

bp = Blueprint("orders", __name__, url_prefix="/orders")

STAFF = (Role.COUNTER, Role.ADMIN)


def _ip() -> str | None:
    return request.remote_addr


def _order(reference: str, *, lock: bool = False):
    """The order for its owner; staff (with verified TOTP) may open any. Staff act only after
    the TOTP step, on their own orders too."""
    order = service.order_for_owner(reference, current_user, lock=lock)
    if (order.user_id != current_user.id or current_user.is_staff) and not mfa_verified():
        abort(403)
    return order


def _fail(exc: EbizError) -> None:
    db.session.rollback()
    flash(str(exc.message), "error")


# ---------------------------------------------------------------- cart

@bp.post("/cart/add")
@login_required
def add_to_cart():
    form = AddToCartForm()
    back = safe_next(form.next.data, url_for("orders.cart"))
    if not form.validate():
        flash(_("Choose what to add to your cart."), "error")
        return redirect(back)
    try:
        service.add_to_cart(current_user, form.product_id.data, session_id=form.session_id.data,
                            quantity=form.quantity.data or 1, request_note=form.request_note.data)
        db.session.commit()
    except EbizError as exc:
        _fail(exc)
        return redirect(back)
    flash(_("Added to your cart."), "success")
    return redirect(url_for("orders.cart"))


@bp.get("/cart")
@login_required
def cart():
    return _render_cart(CheckoutForm(checkout_key=secrets.token_urlsafe(24)))


def _render_cart(form: CheckoutForm, errors: dict | None = None, status: int = 200):
    items = service.cart_items(current_user)
    problems = {i.id: service.purchase_problem(current_user, i.product) for i in items}
    licences = {i.product_id: get_licence(i.product.licence_key) for i in items if i.product.licence_key}
    needs_counter = any(i.product.type == "printed" for i in items)
    counters = list(db.session.scalars(select(Counter).order_by(Counter.name))) if needs_counter else []
    form.collect_counter_id.choices = [SelectChoice(c.id, c.name) for c in counters]
    remits = service.cart_remits(current_user, items)
    total = sum(i.product.price_sen * i.quantity for i in items) - sum(r[1] for r in remits.values())
    ticked = {k for k in request.form if k.startswith("licence_")} if request.method == "POST" else set()
    errors = errors or {}
    beside = {"collect_counter_id", "licence"} | {f"licence_{pid}" for pid in licences}
    other_errors = [msg for field, msg in errors.items() if field not in beside]
    return render_template("orders/cart.html", items=items, problems=problems, licences=licences, form=form,
                           needs_counter=needs_counter, total=total, errors=errors, ticked=ticked,
                           other_errors=other_errors, remits=remits), status


@bp.post("/cart/<int:item_id>")
@login_required
def update_cart_item(item_id: int):
    form = CartItemForm()
    if form.validate():
        try:
            service.update_cart_item(current_user, item_id, form.quantity.data)
            db.session.commit()
        except EbizError as exc:
            _fail(exc)
    else:
        flash(_("Choose a quantity between 0 and 99."), "error")
    return redirect(url_for("orders.cart"))


@bp.post("/from-application/<token>")
@login_required
def from_application(token: str):
    """An approval's priced checkout: its approved items into the applicant's cart (CSRF: app-wide)."""
    try:
        service.add_approved_to_cart(current_user, token)
        db.session.commit()
    except EbizError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    flash(_("The approved items are in your cart, at the approved price."), "success")
    return redirect(url_for("orders.cart"))


@bp.post("/checkout")
@login_required
def checkout():
    form = CheckoutForm()
    form.collect_counter_id.choices = []
    if not form.validate():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("orders.cart"))
    accepted = {}
    for name, value in request.form.items():
        if name.startswith("licence_") and (product_id := int_id(name[8:])) is not None:
            accepted[product_id] = value
    try:
        order = service.checkout(current_user, checkout_key=form.checkout_key.data, accepted=accepted, ip=_ip(),
                                 user_agent=request.user_agent.string,
                                 collect_counter_id=form.collect_counter_id.data or None)
        db.session.commit()
    except EbizError as exc:
        db.session.rollback()
        if exc.field:  # shown beside the field, with what the customer already chose kept
            return _render_cart(form, {exc.field: str(exc.message)}, exc.status)
        flash(str(exc.message), "error")
        return redirect(url_for("orders.cart"))
    flash(_("Order %(ref)s placed. Your invoice %(number)s is under Documents below, and in your email.",
            ref=order.reference, number=order.invoice.number), "success")
    return redirect(url_for("orders.detail", reference=order.reference))


# ---------------------------------------------------------------- my orders

@bp.get("/")
@login_required
def my_orders():
    status = request.args.get("status") or ""
    if status not in service.PAYMENT_FILTERS:
        status = ""
    page = page_arg()
    per = 20
    rows = list(db.session.scalars(service.orders_of(current_user, status).offset((page - 1) * per).limit(per + 1)))
    older = service.history_elsewhere(current_user) if page == 1 and not status else []
    return render_template("orders/my_orders.html", orders=rows[:per], status=status, page=page,
                           has_next=len(rows) > per, filters=service.PAYMENT_FILTERS, older=older)


@bp.get("/training")
@login_required
def my_training():
    return render_template("orders/my_training.html", lines=service.training_registrations(current_user))


def _recheck_payments(reference: str) -> Order:
    """Before the order page offers to pay: ask the gateway about every payment of the order that
    may still be in flight (network first, no lock held), then apply the answers in a write
    transaction of their own (settling what was paid, expiring what was abandoned)."""
    order = _order(reference)
    if payments.in_flight("order", order.reference):
        answers = payments.ask_in_flight("order", order.reference)
        db.session.rollback()
        payments.settle_answers(answers, source="order_page")
        db.session.commit()
        order = _order(reference)
    return order


@bp.get("/<reference>")
@login_required
def detail(reference: str):
    order = _recheck_payments(reference)
    pay_form = PayForm(idempotency_key=secrets.token_urlsafe(24))
    if not current_user.is_primary:
        pay_form.method.choices = [c for c in pay_form.method.choices if c.value != "wallet"]
    wallet_balance = None
    if current_user.is_primary and order.user_id == current_user.id and order.is_open:
        wallet_balance = wallet.balance(current_user)
    in_flight = payments.in_flight("order", order.reference)
    return render_template("orders/detail.html", order=order, pay_form=pay_form, cancel_form=CancelForm(),
                           grants=service.grants_by_line(order), pending_reason=service.pending_reason(order),
                           cancellable=service.cancellable_by_customer(order), wallet_balance=wallet_balance,
                           in_flight=in_flight, in_flight_text=service.IN_FLIGHT_TEXT,
                           pending_texts={i.id: payments.pending_text(i) for i in in_flight},
                           returned=service.returned_payments(order), returned_why=service.returned_why(order),
                           action_form=CheckAgainForm())


@bp.post("/<reference>/pay")
@login_required
def pay(reference: str):
    order = _order(reference, lock=True)  # service.pay locks it anyway: one statement, not two
    if order.user_id != current_user.id:
        abort(403)
    form = PayForm()
    if not form.validate():
        flash(_("Choose how to pay."), "error")
        return redirect(url_for("orders.detail", reference=reference))
    try:
        intent, url = service.pay(current_user, order, method=form.method.data,
                                  idempotency_key=form.idempotency_key.data, bank_code=form.bank_code.data or None)
        paid_ref = intent.reference if intent is not None else None  # read before the commit expires it
        db.session.commit()
    except EbizError as exc:
        _fail(exc)
        return redirect(url_for("orders.detail", reference=reference))
    if url:
        return redirect(url)
    flash(_("Payment successful. Thank you!"), "success")
    if paid_ref is not None:
        return redirect(url_for("payments.receipt", reference=paid_ref))
    return redirect(url_for("orders.detail", reference=reference))


@bp.post("/<reference>/cancel")
@login_required
def cancel(reference: str):
    order = _order(reference)
    form = CancelForm()
    if not form.validate():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("orders.detail", reference=reference))
    try:
        order = service.cancel(order, actor=current_user, reason=form.reason.data or "", ip=_ip())
        db.session.commit()
    except EbizError as exc:
        _fail(exc)
        return redirect(url_for("orders.detail", reference=reference))
    if order.user_id != current_user.id:  # staff cancelling a customer's order: say what happened to the customer
        if order.refund_route == "wallet":
            flash(_("Order cancelled. The amount was returned to the customer's wallet."), "success")
        elif order.refund_route == "staff":
            flash(_("Order cancelled. The payment is now in the refund queue, to be returned to the customer's "
                    "bank or card."), "success")
        else:
            flash(_("Order cancelled."), "success")
    elif order.refund_route == "wallet":
        flash(_("Order cancelled. The amount was returned to your wallet."), "success")
    elif order.refund_route == "staff":
        flash(_("Order cancelled. Our staff will refund your payment to your bank or card."), "success")
    else:
        flash(_("Order cancelled."), "success")
    return redirect(url_for("orders.detail", reference=reference))


# ---------------------------------------------------------------- invoices and credit notes

def _invoice_of(reference: str):
    order = _order(reference)
    if order.invoice is None:
        abort(404)
    return order, order.invoice


@bp.get("/<reference>/invoice")
@login_required
def invoice(reference: str):
    order, inv = _invoice_of(reference)
    return render_template("orders/invoice.html", order=order, invoice=inv)


@bp.get("/<reference>/receipt")
@login_required
def free_receipt(reference: str):
    """The RM 0.00 receipt of an order that needed no payment (a zero total, e.g. fully remitted)."""
    order = _order(reference)
    if not order.receipt_no:
        abort(404)
    return render_template("orders/free_receipt.html", order=order, issuer=agency_issuer())


@bp.get("/<reference>/invoice.pdf")
@login_required
def invoice_pdf(reference: str):
    order, inv = _invoice_of(reference)
    return send_file(pdf.invoice_pdf(order, inv), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{inv.number}.pdf")


def _credit_note_of(reference: str, number: str):
    order, inv = _invoice_of(reference)
    cn = db.session.scalar(select(CreditNote).where(CreditNote.number == number, CreditNote.invoice_id == inv.id))
    if cn is None:
        abort(404)
    return order, inv, cn


@bp.get("/<reference>/credit-notes/<number>")
@login_required
def credit_note(reference: str, number: str):
    order, inv, cn = _credit_note_of(reference, number)
    return render_template("orders/credit_note.html", order=order, invoice=inv, cn=cn)


@bp.get("/<reference>/credit-notes/<number>.pdf")
@login_required
def credit_note_pdf(reference: str, number: str):
    order, inv, cn = _credit_note_of(reference, number)
    return send_file(pdf.credit_note_pdf(order, inv, cn), mimetype="application/pdf", download_name=f"{cn.number}.pdf")


# ---------------------------------------------------------------- staff fulfilment

@bp.get("/staff")
@roles_required(*STAFF)
def staff_queue():
    ref = (request.args.get("ref") or "").strip().upper()
    if ref:
        found = db.session.scalar(select(Order.reference).where(Order.reference == ref))
        if found:
            return redirect(url_for("orders.detail", reference=found))
        flash(_("No order %(ref)s.", ref=ref[:40]), "error")
    kind = request.args.get("kind") if request.args.get("kind") in ("printed", "service") else None
    lines = list(db.session.scalars(service.staff_queue(kind).limit(200)))
    return render_template("orders/staff_queue.html", lines=lines, kind=kind, mark_form=MarkLineForm(),
                           attach_form=AttachForm())


@bp.post("/staff/sessions/<int:session_id>/cancel")
@roles_required(Role.ADMIN)
def staff_cancel_session(session_id: int):
    """Cancel a training session and close (refund) the orders holding its seats."""
    ts = db.session.get(TrainingSession, session_id) or abort(404)
    product_id = ts.product_id
    if not CancelSessionForm().validate():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("catalog.admin_edit", product_id=product_id))
    try:
        touched = service.cancel_training_session(session_id, actor=current_user, ip=_ip())
        db.session.commit()
    except EbizError as exc:
        _fail(exc)
    else:
        flash(_("Session cancelled. Orders closed or refunded: %(n)d.", n=len(touched)), "success")
    return redirect(url_for("catalog.admin_edit", product_id=product_id))


@bp.route("/staff/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def staff_edit_session(session_id: int):
    """Change a training session's time, venue or seats; its registrants are told of a new time or place."""
    ts = db.session.get(TrainingSession, session_id) or abort(404)
    form = SessionForm(obj=ts)
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = to_local(ts.starts_at), to_local(ts.ends_at)
    elif form.validate_on_submit():
        try:
            changed, told = service.change_training_session(
                session_id, starts_at=from_local(form.starts_at.data), ends_at=from_local(form.ends_at.data),
                venue=form.venue.data, online=form.online.data, seats_total=form.seats_total.data,
                actor=current_user, ip=_ip())
            db.session.commit()
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            flash(_("Session saved. Customers told of the change: %(n)d.", n=told) if changed
                  else _("Nothing was changed."), "success")
            return redirect(url_for("catalog.admin_edit", product_id=ts.product_id))
    return render_template("orders/staff_session.html", ts=ts, form=form)


@bp.post("/staff/lines/<int:line_id>/mark")
@roles_required(*STAFF)
def staff_mark(line_id: int):
    form = MarkLineForm()
    if form.validate():
        try:
            line = service.mark_line(line_id, form.to.data, actor=current_user, ip=_ip())
            db.session.commit()
            if line.status == LineStatus.READY:
                flash(_("%(name)s is marked ready for collection.", name=line.name), "success")
            else:
                flash(_("%(name)s is marked collected.", name=line.name), "success")
        except EbizError as exc:
            _fail(exc)
    else:
        flash(_("The form expired. Please try again."), "error")
    return redirect(url_for("orders.staff_queue"))


@bp.post("/staff/lines/<int:line_id>/attach")
@large_upload
@roles_required(*STAFF)
def staff_attach(line_id: int):
    form = AttachForm()
    if db.session.get(OrderLine, line_id) is None:
        abort(404)
    if form.validate():
        try:
            service.attach_deliverable(line_id, form.file.data.stream, form.file.data.filename, actor=current_user,
                                       ip=_ip())
            db.session.commit()
            flash(_("File attached: the customer can download it now."), "success")
        except EbizError as exc:
            _fail(exc)
    else:
        flash(" ".join(str(e) for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("orders.staff_queue"))
