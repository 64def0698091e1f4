"""Accounts pages: register, sign in and out, password, email, MFA, profile."""

import hashlib
import time

import segno
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from ..errors import EbizError
from ..extensions import db, limiter, login_manager
from ..forms import show_error
from ..main_views import safe_next
from . import identity, service
from .decorators import MFA_SESSION_KEY, mfa_verified
from .forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmForm,
    ForgotForm,
    LoginForm,
    MfaDisableForm,
    MfaSetupForm,
    ProfileForm,
    RegisterForm,
    ResetForm,
    TotpForm,
)
from .models import Role, User

bp = Blueprint("accounts", __name__, url_prefix="/account")
PENDING_KEY = "mfa_pending"
PENDING_MAX_AGE = 300
# What the limits' deduct_when reads of this request (on the request, not in `g`: one per request).
SIGNIN_OK = "ebiz.signin_ok"
REGISTRATION_CHECKED = "ebiz.registration_checked"


@login_manager.user_loader
def _load_user(session_id: str):
    """Load the user only while the session's version matches (see User.get_id)."""
    user_id, _sep, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


@bp.app_template_global()
def rate_limit_retry_seconds() -> int | None:
    """Seconds until the rate limit that refused this request resets (for the 429 page)."""
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()))


@bp.app_template_global()
def format_phone(e164: str | None) -> str:
    return identity.format_phone(e164)


def _ip() -> str | None:
    return request.remote_addr


def home_for(user: User) -> str:
    """Where each role lands after signing in."""
    if user.role == Role.ADMIN:
        return url_for("admin.index")
    if user.role == Role.SUPPORT:
        return url_for("support.desk")
    if user.role == Role.COUNTER:
        return url_for("counter.desk")
    return url_for("accounts.profile")


def fresh_session() -> None:
    """Drop everything in the session (and the CSRF token cached for this request with it), except
    the messages waiting to be shown (a welcome, "please sign in again"): they are for this person."""
    flashes = session.get("_flashes")
    session.clear()
    if flashes:
        session["_flashes"] = flashes
    session.permanent = True  # lasts PERMANENT_SESSION_LIFETIME, not just the browser session
    g.pop("csrf_token", None)


def _complete_login(user: User, *, mfa: bool, next_url: str | None):
    request.environ[SIGNIN_OK] = True  # not counted by the per-account and per-IP limits
    fresh_session()  # a fresh session at sign-in: nothing carried over from before
    login_user(user)
    if mfa:
        session[MFA_SESSION_KEY] = user.get_id()
    service.signed_in(user, ip=_ip(), mfa=mfa)
    db.session.commit()
    if user.is_staff and not mfa:
        flash(_("Staff accounts use two-factor sign-in. Set up your authenticator app to continue."), "warning")
        return redirect(url_for("accounts.mfa_setup"))
    return redirect(safe_next(next_url, home_for(user)))


def _login_ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_IP"]


def _login_account_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"]


def _account_key() -> str:
    """Rate-limit key of the account being tried, whichever of its identifiers was typed (email,
    MyKad or passport number); a login that names no account is keyed on what was typed."""
    typed = request.form.get("login")
    if request.endpoint == "accounts.mfa_verify" or typed is None:  # the TOTP step: whatever the form
        key = f"uid:{(session.get(PENDING_KEY) or {}).get('uid')}"  # says, the account that passed the password
    else:
        user = service.find_by_login(typed[:254])
        key = f"uid:{user.id}" if user else typed.strip().lower().replace("-", "").replace(" ", "")
    return "account:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _signin_failed(_response) -> bool:
    """Only failures count towards the sign-in limits: a right password (or code) never does."""
    return not request.environ.get(SIGNIN_OK)


_limit_ip = limiter.limit(_login_ip_limit, methods=["POST"], scope="login-ip", deduct_when=_signin_failed)
_limit_account = limiter.limit(_login_account_limit, key_func=_account_key, methods=["POST"], scope="login-account",
                               deduct_when=_signin_failed)
_limit_forgot_ip = limiter.limit(_login_ip_limit, methods=["POST"], scope="forgot-ip")


def _forgot_email_key() -> str:
    """The address a reset link is asked for: one mailbox is not flooded with links."""
    typed = (request.form.get("email") or "")[:254].strip().lower()
    return "forgot:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


_limit_forgot_email = limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_EMAIL"],
                                    key_func=_forgot_email_key, methods=["POST"], scope="forgot-email")


# Registration: per IP, per identity number and per email address. Only submissions that reach the
# checks of who already has an account count (a typo the form points out costs nothing).
def _registration_identity_key() -> str:
    ident = service.registration_identity(request.form.get("kind", ""), mykad=request.form.get("mykad"),
                                          passport_no=request.form.get("passport_no"),
                                          company_reg_no=request.form.get("company_reg_no"))
    # No valid number: such a form never reaches the checks, so its shared key is never counted.
    return "register-id:" + (hashlib.sha256(ident.encode()).hexdigest()[:32] if ident else "-")


def _registration_email_key() -> str:
    typed = (request.form.get("email") or "")[:254].strip().lower()
    return "register-email:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


def _registration_checked(_response) -> bool:
    return bool(request.environ.get(REGISTRATION_CHECKED))


_limit_register_ip = limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_IP"], methods=["POST"],
                                   scope="register-ip", deduct_when=_registration_checked)
_limit_register_identity = limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_IDENTITY"],
                                         key_func=_registration_identity_key, methods=["POST"],
                                         scope="register-identity", deduct_when=_registration_checked)
_limit_register_email = limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_EMAIL"],
                                      key_func=_registration_email_key, methods=["POST"],
                                      scope="register-email", deduct_when=_registration_checked)
REGISTERED_EMAIL_KEY = "registered_email"


# ------------------------------------------------------------ registration

@bp.route("/register", methods=["GET", "POST"])
@_limit_register_ip
@_limit_register_identity
@_limit_register_email
def register():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = RegisterForm()
    form.nationality.choices = [SelectChoice("", _("Choose a country"))] + [
        SelectChoice(code, name) for code, name in identity.countries()]
    if form.validate_on_submit():
        try:
            service.register(
                kind=form.kind.data, full_name=form.full_name.data, email=form.email.data,
                password=form.password.data, phone=form.phone.data, mykad=form.mykad.data,
                passport_no=form.passport_no.data, nationality=form.nationality.data,
                company_reg_no=form.company_reg_no.data, company_name=form.company_name.data,
                rep_mykad=form.rep_mykad.data, locale=str(get_locale()), ip=_ip(), confirm=form.confirm.data or "")
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            # Whatever the outcome (a new account, an address or identity number that has one), the
            # same answer: the mailbox is told which (see service.register).
            request.environ[REGISTRATION_CHECKED] = True
            db.session.commit()
            session[REGISTERED_EMAIL_KEY] = form.email.data.strip()[:254]
            return redirect(url_for("accounts.register_sent"))
    return render_template("accounts/register.html", form=form)


@bp.get("/register/sent")
def register_sent():
    email = session.get(REGISTERED_EMAIL_KEY)
    if not email:
        return redirect(url_for("accounts.register"))
    return render_template("accounts/register_sent.html", email=email,
                           hours=current_app.config["EMAIL_CHANGE_MAX_AGE"] // 3600)


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token: str):
    """The emailed link: a button (a mail scanner's GET changes nothing), then signed in and welcomed."""
    try:
        user = service.registration_user(token)
    except EbizError as exc:
        return render_template("accounts/confirm_registration.html", form=None, problem=exc.message), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user = service.confirm_registration(token, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            return render_template("accounts/confirm_registration.html", form=None, problem=exc.message), 400
        if current_user.is_authenticated:
            logout_user()
        flash(_("Welcome to eBiz. Your account is ready."), "success")
        return _complete_login(user, mfa=False, next_url=url_for("accounts.profile"))
    return render_template("accounts/confirm_registration.html", form=form, problem=None, email=user.email)


# ----------------------------------------------------------------- sign-in

@bp.route("/login", methods=["GET", "POST"])
@_limit_ip
@_limit_account
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    next_url = request.args.get("next")
    status = 200
    if form.validate_on_submit() and (detour := service.unknown_login_detour(form.login.data)):
        return redirect(detour)  # e.g. a legacy account waiting to migrate (ebiz/migration/)
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.login.data, form.password.data, ip=_ip())
        except EbizError as exc:
            db.session.commit()  # the failure count, lockout and audit events stay
            show_error(form, exc)
            status = 429 if isinstance(exc, service.LockedOut) else 200
        else:
            if user.mfa_enabled:
                db.session.commit()
                fresh_session()
                session[PENDING_KEY] = {"uid": user.id, "v": user.session_version, "at": int(time.time()),
                                        "next": safe_next(next_url, "")}
                request.environ[SIGNIN_OK] = True  # the password was right: the code step counts its own
                return redirect(url_for("accounts.mfa_verify"))
            return _complete_login(user, mfa=False, next_url=next_url)
    return render_template("accounts/login.html", form=form), status


def _pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or user.session_version != pending.get("v") or not user.is_active:
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@_limit_ip
@_limit_account
def mfa_verify():
    user = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(_("Please sign in again."), "warning")
        return redirect(url_for("accounts.login"))
    form = TotpForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.verify_totp(user, form.code.data, ip=_ip())
        except EbizError as exc:
            db.session.commit()
            show_error(form, exc)
            status = 429 if isinstance(exc, service.LockedOut) else 200
        else:
            return _complete_login(user, mfa=True, next_url=session.get(PENDING_KEY, {}).get("next"))
    return render_template("accounts/mfa_verify.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        service.sign_out(current_user._get_current_object(), ip=_ip())
        db.session.commit()
    logout_user()
    fresh_session()
    flash(_("You have signed out."), "success")
    return redirect(url_for("main.home"))


# ----------------------------------------------------------------- profile

@bp.get("/")
@login_required
def profile():
    return render_template("accounts/profile.html", user=current_user._get_current_object(), mfa_ok=mfa_verified())


@bp.route("/edit", methods=["GET", "POST"])
@login_required
def edit_profile():
    user = current_user._get_current_object()
    form = ProfileForm(obj=None if request.method == "POST" else user)
    if request.method == "GET":
        form.phone.data = identity.format_phone(user.phone)
    if form.validate_on_submit():
        try:
            changed = service.update_profile(user, full_name=form.full_name.data, phone=form.phone.data,
                                             address=form.address.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Your details were saved.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/edit_profile.html", form=form, user=user)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        keep_mfa = mfa_verified()
        user = current_user._get_current_object()
        try:
            service.change_password(user, current=form.current_password.data, new=form.new_password.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            # Every other session ended with the old session version; this one continues.
            fresh_session()
            login_user(user)
            if keep_mfa:
                session[MFA_SESSION_KEY] = user.get_id()
            flash(_("Your password was changed. Other devices have been signed out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/email", methods=["GET", "POST"])
@login_required
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            new = service.request_email_change(current_user._get_current_object(), password=form.current_password.data,
                                               new_email=form.new_email.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            flash(_("We sent a confirmation link to %(email)s. Your current address stays in use until you "
                    "confirm.", email=new), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_email.html", form=form)


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    try:
        user, new_email = service.email_change_target(token)
    except EbizError as exc:
        return render_template("accounts/confirm_email.html", form=None, problem=exc.message), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.confirm_email_change(token, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Your email address was changed to %(email)s.", email=new_email), "success")
            return redirect(url_for("accounts.profile") if current_user.is_authenticated
                            else url_for("accounts.login"))
    return render_template("accounts/confirm_email.html", form=form, problem=None, new_email=new_email,
                           old_email=user.email)


# ------------------------------------------------------------ forgot/reset

@bp.route("/forgot", methods=["GET", "POST"])
@_limit_forgot_ip
@_limit_forgot_email
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data, ip=_ip())
        db.session.commit()
        flash(_("If an account uses this email, we have sent it a link to choose a new password. "
                "The link works once, for %(n)d minutes.", n=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60),
              "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        service.user_for_reset_token(token)
    except EbizError as exc:
        return render_template("accounts/reset.html", form=None, problem=exc.message), 400
    form = ResetForm()
    if form.validate_on_submit():
        try:
            service.reset_password(token, form.password.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            logout_user()
            fresh_session()
            flash(_("Your password was changed. Please sign in with it."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form, problem=None)


# --------------------------------------------------------------------- MFA

@bp.route("/mfa", methods=["GET", "POST"])
@login_required
def mfa_setup():
    user = current_user._get_current_object()
    next_url = request.args.get("next")
    if user.mfa_enabled:
        return render_template("accounts/mfa_status.html", user=user, form=MfaDisableForm())
    form = MfaSetupForm()
    qr = secret = None
    if form.validate_on_submit():
        try:
            service.confirm_totp(user, password=form.current_password.data, code=form.code.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            show_error(form, exc)
        else:
            db.session.commit()
            session[MFA_SESSION_KEY] = user.get_id()
            flash(_("Two-factor sign-in is on. You will be asked for a code at every sign-in."), "success")
            return redirect(safe_next(next_url, home_for(user)))
    elif request.method == "GET":
        # A new secret, shown this once; it becomes active only when confirmed with a code.
        secret, uri = service.start_totp_enrolment(user)
        db.session.commit()
        qr = segno.make(uri, error="m").svg_data_uri(scale=5, dark="#1b2430")
    return render_template("accounts/mfa_setup.html", form=form, qr=qr, secret=secret, user=user)


@bp.post("/mfa/disable")
@login_required
def mfa_disable():
    form = MfaDisableForm()
    if form.validate_on_submit():
        try:
            service.disable_totp(current_user._get_current_object(), password=form.current_password.data, ip=_ip())
        except EbizError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            session.pop(MFA_SESSION_KEY, None)
            flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("accounts.mfa_setup"))
