"""Staff console: each role's home, user search, enable/disable, roles and counters."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from ..accounts import service as accounts
from ..accounts.decorators import roles_required
from ..accounts.models import STAFF_ROLES, Role, Tier, User
from ..accounts.search import user_search
from ..accounts.views import home_for
from ..companies import service as companies
from ..companies.forms import RepresentativeForm
from ..counters.models import Counter
from ..errors import EbizError
from ..extensions import db
from ..forms import int_id, page_arg, show_error
from ..support import service as support
from .forms import ActiveForm, LookupForm, RoleForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 25


@bp.get("/home")
@login_required
def staff_home():
    """The 'Staff home' link: each role lands on its own page."""
    return redirect(home_for(current_user))


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    def count(*where):
        return db.session.scalar(select(func.count()).select_from(User).where(*where))

    stats = {
        "customers": count(User.role == Role.CUSTOMER),
        "primary": count(User.role == Role.CUSTOMER, User.tier == Tier.PRIMARY),
        "staff": count(User.role.in_([str(r) for r in STAFF_ROLES])),
        "disabled": count(User.active.is_(False)),
    }
    return render_template("admin/index.html", stats=stats)


@bp.get("/support")
@roles_required(Role.SUPPORT, Role.ADMIN)
def support_home():
    """The old customer lookup: now part of the support desk."""
    q = request.args.get("q", "")[:100]
    return redirect(url_for("support.desk", q=q) if q else url_for("support.desk"))


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    form = LookupForm(request.args)
    role = request.args.get("role") or None
    if role not in {str(r) for r in Role}:
        role = None
    page = db.paginate(user_search(form.q.data, role=role), page=page_arg(), per_page=PER_PAGE,
                       error_out=False)
    return render_template("admin/users.html", form=form, page=page, role=role, roles=list(Role))


def _role_form(user: User) -> RoleForm:
    form = RoleForm(role=user.role, counter_id=str(user.counter_id or ""))
    counters = db.session.scalars(select(Counter).where(Counter.active.is_(True)).order_by(Counter.code)).all()
    form.counter_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(c.id), f"{c.code} · {c.name}")
                                                          for c in counters]
    return form


@bp.get("/users/<int:user_id>")
@roles_required(Role.ADMIN)
def user_detail(user_id: int):
    user = accounts.get_user(user_id)
    counter = db.session.get(Counter, user.counter_id) if user.counter_id else None
    return render_template("admin/user.html", user=user, counter=counter, role_form=_role_form(user),
                           active_form=ActiveForm())


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    user = accounts.get_user(user_id)
    form = ActiveForm()
    if form.validate_on_submit():
        enable = form.active.data == "1"
        try:
            accounts.set_active(current_user._get_current_object(), user, enable, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The account is enabled.") if enable else
                  _("The account is disabled and its sessions have ended."), "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/mfa-reset")
@roles_required(Role.ADMIN)
def reset_mfa(user_id: int):
    user = accounts.get_user(user_id)
    form = ActiveForm()
    form.active.data = "1"  # the form's CSRF token is all this action needs
    if form.validate_on_submit():
        try:
            accounts.reset_mfa(current_user._get_current_object(), user, ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Two-factor sign-in was reset; the user sets it up again at the next sign-in."), "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/role")
@roles_required(Role.ADMIN)
def set_role(user_id: int):
    user = accounts.get_user(user_id)
    form = _role_form(user)
    form.process(request.form)
    if form.validate_on_submit():
        counter = None
        if (counter_id := int_id(form.counter_id.data)) is not None:
            counter = db.session.get(Counter, counter_id)
        try:
            accounts.set_role(current_user._get_current_object(), user, form.role.data, counter=counter,
                              ip=request.remote_addr)
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            return render_template("admin/user.html", user=user, counter=None, role_form=form,
                                   active_form=ActiveForm()), 400
        db.session.commit()
        flash(_("The role was saved."), "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.route("/users/<int:user_id>/representative", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def company_representative(user_id: int):
    """Change a company's representative (the old one leaves or changes), on the strength of the
    company's own support ticket assigned to this administrator: the support desk checks the ticket
    and records the action on it, the companies domain makes the change, the ticket says so."""
    user = accounts.get_user(user_id)
    if not companies.is_company(user):
        abort(404)
    form = RepresentativeForm()
    if request.method == "GET" and request.args.get("ticket"):
        form.ticket.data = request.args["ticket"][:30]  # the link from the ticket's page
    status = 200
    if form.validate_on_submit():
        admin = current_user._get_current_object()
        try:
            ticket = support.ticket_for_action(form.ticket.data, admin, action="company_representative",
                                               target=f"user:{user.id}", customer=user)
            new = companies.change_representative(admin, user, full_name=form.full_name.data,
                                                  mykad=form.mykad.data, reason=form.reason.data,
                                                  ticket_reference=ticket.reference, ip=request.remote_addr)
            support.action_done(ticket, admin, body=f"Company representative changed to {new.full_name} (reason: "
                                                    f"{new.reason}). The company was told by email; everyone "
                                                    f"signed in to the account was signed out.")
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
            status = 400
        else:
            db.session.commit()
            flash(_("The representative was changed; the company was told and its sessions ended."), "success")
            return redirect(url_for("admin.company_representative", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render_template("admin/company_representative.html", user=user, form=form,
                           current=companies.current_representative(user),
                           history=companies.representative_history(user)), status
