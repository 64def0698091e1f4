"""Accounts: registration, sign-in, lockout, TOTP, passwords, email changes, staff actions.

Invariants:
- Every identity number and email is validated and stored normalised
  (see identity.py); uniqueness is checked here and enforced by the schema.
- Passwords: at least 8 characters and a zxcvbn score of 3 or more (the
  user's own name and email count against it); stored as Argon2id hashes.
- Sign-in failures count towards a lockout (LOGIN_LOCKOUT_THRESHOLD failures:
  locked for LOGIN_LOCKOUT_SECONDS); the caller commits failures too, so the
  count and the audit events persist even though an error is raised.
- A TOTP code is accepted once: its time step must be later than
  `totp_last_step`, moved forward by a conditional UPDATE (race-free).
- Bumping `session_version` ends every session of the user (sign-out,
  password change or reset, disable).
- Tokens carry a fingerprint of the state they may change: a reset link dies
  after use or any password change, an email-change link when the email changes
  (the address and `email_change_count`, kept on the account), a registration
  link once followed.
- Registration and email change are not oracles: the form answers the same for
  a free and a taken email or identity number; the mailboxes are told which.
  An account registered through the form cannot sign in until its emailed
  link is followed (or its password is reset through the email).
- A login that names no account answers like one that does: the same work, the
  same tries-left warning and lockout (its failures counted in the limiter).
- Every privileged change writes an audit event in the same transaction.
"""

from datetime import UTC, datetime, timedelta

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from limits import RateLimitItemPerSecond  # Flask-Limiter's own, for its storage
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn

from ..audit.service import record
from ..clock import utcnow
from ..db import lock_one
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db, limiter
from ..notifications.service import queue_mail
from ..tokens import TokenError, fingerprint, make_token, read_token
from . import identity
from .models import STAFF_ROLES, Kind, Role, Tier, User
from .passwords import hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MIN_PASSWORD_SCORE = 3
TOTP_ISSUER = "eBiz"
_DUMMY_HASH = None


class LockedOut(Forbidden):
    code = "locked"
    status = 429
    default_message = _l("Too many failed sign-in attempts. Please try again later.")


# ----------------------------------------------------------------- helpers

def _lock(user: User) -> User:
    locked = lock_one(select(User).where(User.id == user.id))
    if locked is None:
        raise NotFound()
    return locked


def public_url(endpoint: str, **values) -> str:
    """An absolute link for an email, on PUBLIC_BASE_URL (in a request or not: a CLI, a worker)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def check_password_strength(password: str, *, user_inputs=(), field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH), field=field)
    inputs = [str(x) for x in user_inputs if x]
    inputs += [part for x in inputs for part in x.replace("@", " ").replace(".", " ").split() if len(part) > 2]
    if zxcvbn(password, user_inputs=inputs)["score"] < MIN_PASSWORD_SCORE:
        raise ValidationError(
            _l("This password is too easy to guess. Use a longer phrase of unrelated words, "
               "not your name or email."), field=field)


def _email_taken(email: str, exclude_id: int | None = None) -> bool:
    q = select(User.id).where(func.lower(User.email) == email.lower())
    if exclude_id:
        q = q.where(User.id != exclude_id)
    return db.session.scalar(q) is not None


def find_by_login(login: str) -> User | None:
    """The user for an email, MyKad number or passport number (None when none)."""
    text = (login or "").replace("\x00", "").strip()
    if not text:
        return None
    if "@" in text:
        return db.session.scalar(select(User).where(func.lower(User.email) == text.lower()))
    digits = text.replace("-", "").replace(" ", "")
    if digits.isdigit() and len(digits) == 12:
        return db.session.scalar(select(User).where(User.mykad == digits))
    return db.session.scalar(select(User).where(User.passport_no == digits.upper()))


# A domain above this one (migration) may answer a sign-in whose identifier names no account:
# it registers a function login -> URL or None at app setup (the floors forbid importing it here).
_UNKNOWN_LOGIN_HANDLERS: list = []


def register_unknown_login_handler(fn) -> None:
    if fn not in _UNKNOWN_LOGIN_HANDLERS:
        _UNKNOWN_LOGIN_HANDLERS.append(fn)


def unknown_login_detour(login: str) -> str | None:
    """Where to send a sign-in whose identifier is no live account (a legacy account waiting to
    migrate, say); None for a live account or when no handler knows it (the usual answer)."""
    if not _UNKNOWN_LOGIN_HANDLERS or find_by_login((login or "")[:254]) is not None:
        return None
    return next((url for fn in _UNKNOWN_LOGIN_HANDLERS if (url := fn(login[:254]))), None)


# ------------------------------------------------------------ registration

# What a taken unique identity says when a concurrent twin took it between the checks and the
# insert (registration itself never tells the form; see register).
_DUPLICATE = {"email": _l("An account with this email already exists."),
              "mykad": _l("An account with this MyKad number already exists."),
              "passport_no": _l("An account with this passport number already exists."),
              "company_reg_no": _l("This company is already registered.")}
_IDENTITY_FIELDS = ("mykad", "passport_no", "company_reg_no")

# What became of a registration. The form answers every outcome alike ("we sent an email to
# <address>"): only the mailbox learns which it was.
REGISTERED = "registered"  # a new account, waiting for its emailed link
EMAIL_TAKEN = "email_taken"  # the address already has an account: it is told so (and how to sign in)
IDENTITY_TAKEN = "identity_taken"  # the identity number has an account: the address typed is told so


def registration_identity(kind: str, *, mykad: str | None = None, passport_no: str | None = None,
                          company_reg_no: str | None = None) -> str | None:
    """The normalised identity number a registration claims (None when it is not valid): the
    rate-limit key that stops one number being tried over and over."""
    try:
        if kind == Kind.INDIVIDUAL:
            return "mykad:" + identity.normalise_mykad(mykad)
        if kind == Kind.FOREIGNER:
            return "passport:" + identity.normalise_passport(passport_no)
        if kind == Kind.COMPANY:
            return "company:" + identity.normalise_company_reg_no(company_reg_no)
    except ValidationError:
        return None
    return None


def register(**details) -> str:
    """Register a Regular customer of `kind`; returns the outcome (REGISTERED, EMAIL_TAKEN or
    IDENTITY_TAKEN), which the caller must NOT show: the page says the same for each.

    Bad input is found in one go (each problem beside its field; `confirm`, when given, is the
    password typed a second time). Whether the email or identity number is taken is never an
    answer of the form (it would let anyone test addresses and MyKad numbers); instead:
    - a new account is written with `email_confirmation_pending` and its address is sent a link
      (confirm_registration) that signs it in; until then it cannot sign in;
    - an address that already has an account is sent a notice (sign in, or reset the password;
      for an account still waiting, a fresh link) and nothing else changes;
    - an identity number that already has an account: the address typed is told (so a real
      owner learns to sign in or to see a counter), the account holding it is told someone tried,
      and nothing is created. The limits per identity number and per IP keep this from becoming
      a way to test numbers in bulk.
    The password is hashed on every path, so the time taken does not tell the outcomes apart."""
    return _register(email_proven=False, **details)[0]


def register_proven(**details) -> User:
    """Register a Regular customer whose email is already proven (they followed a link we sent to it:
    the legacy migration). Same rules and checks as `register`, but the account may sign in at once
    (no registration link) and nothing is mailed about a taken email or identity number: the caller
    has checked there is no such account (a concurrent twin gets the duplicate's ValidationError)."""
    return _register(email_proven=True, **details)[1]


def _register(*, kind: str, full_name: str, email: str, password: str, phone: str | None = None,
              mykad: str | None = None, passport_no: str | None = None, nationality: str | None = None,
              company_reg_no: str | None = None, company_name: str | None = None,
              rep_mykad: str | None = None, locale: str | None = None, ip: str | None = None,
              confirm: str | None = None, email_proven: bool = False) -> tuple[str, User | None]:
    errors: list[ValidationError] = []

    def check(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            errors.append(exc)
            return None

    if kind not in set(Kind):
        raise ValidationError(_l("Choose the kind of account."), field="kind")
    name = " ".join((full_name or "").split())
    if not name:
        errors.append(ValidationError(_l("Enter your full name."), field="full_name"))
    email_n = check(identity.normalise_email, email)
    phone_n = check(identity.normalise_phone, phone)
    fields: dict = {}
    if kind == Kind.INDIVIDUAL:
        fields["mykad"] = check(identity.normalise_mykad, mykad)
    elif kind == Kind.FOREIGNER:
        fields["passport_no"] = check(identity.normalise_passport, passport_no)
        fields["nationality"] = check(identity.normalise_nationality, nationality)
    else:
        fields["company_reg_no"] = check(identity.normalise_company_reg_no, company_reg_no)
        fields["company_name"] = " ".join((company_name or "").split())
        fields["rep_mykad"] = check(identity.normalise_mykad, rep_mykad, field="rep_mykad")
        if not fields["company_name"]:
            errors.append(ValidationError(_l("Enter the company name."), field="company_name"))
    check(check_password_strength, password, user_inputs=[name, email_n, fields.get("company_name")])
    if confirm is not None and confirm != password:
        errors.append(ValidationError(_l("The two passwords differ."), field="confirm"))
    if errors:
        first = errors[0]
        raise ValidationError(first.message, field=first.field,
                              errors={e.field: str(e.message) for e in reversed(errors)})

    password_hash = hash_password(password)  # on every path: the same work whatever the outcome
    taken = None if email_proven else _tell_if_taken(email_n, fields, kind=kind, locale=locale, ip=ip)
    if taken:
        return taken, None
    user = User(kind=kind, full_name=name, email=email_n, phone=phone_n, password_hash=password_hash,
                tier=Tier.REGULAR, role=Role.CUSTOMER, locale=locale, email_confirmation_pending=not email_proven,
                **fields)
    try:
        _insert_unique(user)
    except ValidationError:  # a concurrent twin took the email or number meanwhile: as if it had been first
        taken = None if email_proven else _tell_if_taken(email_n, fields, kind=kind, locale=locale, ip=ip)
        if taken:
            return taken, None
        raise
    record("account.registered", actor=user, target=user, ip=ip, kind=kind)
    if not email_proven:
        _send_registration_link(user)
    return REGISTERED, user


def account_with_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def identity_holder(fields: dict) -> User | None:
    """The account holding one of the identity numbers in `fields` (normalised), if any."""
    for f in _IDENTITY_FIELDS:
        if fields.get(f):
            holder = db.session.scalar(select(User).where(getattr(User, f) == fields[f]))
            if holder is not None:
                return holder
    return None


def _tell_if_taken(email: str, fields: dict, *, kind: str, locale: str | None, ip: str | None) -> str | None:
    """When the email or an identity number already has an account, tell the mailboxes (not the
    form) and return the outcome (EMAIL_TAKEN, IDENTITY_TAKEN); else None."""
    existing = account_with_email(email)
    if existing is not None:
        _tell_address_it_has_an_account(existing, ip=ip)
        return EMAIL_TAKEN
    holder = identity_holder(fields)
    if holder is not None:
        _tell_identity_taken(email, holder, kind=kind, locale=locale, ip=ip)
        return IDENTITY_TAKEN
    return None


def _registration_fingerprint(user: User) -> str:
    """A registration link dies once used (pending cleared) or when the password or email changes."""
    return fingerprint(user.id, user.email, user.password_hash, user.email_confirmation_pending)


def _send_registration_link(user: User) -> None:
    token = make_token("registration", {"uid": user.id, "fp": _registration_fingerprint(user)})
    queue_mail(user.email, _l("Finish your eBiz registration"), "registration_confirm", user=user,
               link=public_url("accounts.confirm_registration", token=token),
               hours=current_app.config["EMAIL_CHANGE_MAX_AGE"] // 3600)


def _tell_address_it_has_an_account(user: User, *, ip: str | None) -> None:
    """Someone registered with an address that has an account: tell the address, not the form."""
    record("account.registration_refused", target=user, ip=ip, reason="email_taken")
    # An account still waiting for its link gets no fresh link: whoever registered it chose its
    # password, and it may not be this mailbox's owner. A new password by the "forgot" link (which
    # proves the mailbox) opens it instead.
    queue_mail(user.email, _l("You already have an eBiz account"), "registration_existing", user=user,
               pending=user.email_confirmation_pending, login_link=public_url("accounts.login"),
               forgot_link=public_url("accounts.forgot_password"))


def _tell_identity_taken(email: str, holder: User, *, kind: str, locale: str | None, ip: str | None) -> None:
    record("account.registration_refused", target=holder, ip=ip, reason="identity_taken", email=email)
    queue_mail(email, _l("Your eBiz registration could not be completed"), "registration_identity_taken",
               kind=kind, login_link=public_url("accounts.login"),
               forgot_link=public_url("accounts.forgot_password"),
               counters_link=public_url("counter.locations"))
    queue_mail(holder.email, _l("Someone tried to register with your identity number"),
               "registration_identity_notice", user=holder)


def registration_user(token: str, *, lock: bool = False) -> User:
    """The account a live registration link finishes; else ValidationError (expired, used, invalid)."""
    try:
        data = read_token("registration", token)
    except TokenError as exc:
        if exc.reason == "expired":
            raise ValidationError(_l("This link has expired. Register again with the same details to get "
                                     "a new one.")) from None
        raise ValidationError(_l("This link is not valid.")) from None
    user = db.session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is not None and lock:
        user = _lock(user)
    if user is None or not user.is_active or data.get("fp") != _registration_fingerprint(user):
        raise ValidationError(_l("This link was already used or is no longer valid. If your account is "
                                 "ready, sign in."))
    return user


def confirm_registration(token: str, *, ip: str | None = None) -> User:
    """The emailed link was followed: the address is the registrant's, the account may sign in."""
    user = registration_user(token, lock=True)
    user.email_confirmation_pending = False
    record("account.registration_confirmed", actor=user, target=user, ip=ip)
    return user


def _insert_unique(user: User) -> None:
    """Write the user (new or changed); a unique identity taken meanwhile by a concurrent request
    is the same clear error the checks give, not a database error."""
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        field = next((f for f in _DUPLICATE if f"user_account_{f}" in text or f"user_account.{f}" in text), None)
        if field is None:
            raise
        raise ValidationError(_DUPLICATE[field], field=field) from None


# ----------------------------------------------------------------- sign-in

def _lockout_message(until):
    from ..clock import format_local

    return _l("Too many failed sign-in attempts. Please try again after %(time)s.",
              time=format_local(until, "%H:%M"))


_NOT_CORRECT = _l("The email, identity number or password is not correct.")
WARN_WHEN_TRIES_LEFT = 2  # say how many tries are left once this few remain


def _not_correct(tries_left: int) -> ValidationError:
    """The refusal of a wrong password; once few tries remain before the lockout, it says how many."""
    if 0 < tries_left <= WARN_WHEN_TRIES_LEFT:
        minutes = max(1, current_app.config["LOGIN_LOCKOUT_SECONDS"] // 60)
        return ValidationError(_l("The email, identity number or password is not correct. Tries left before "
                                  "sign-in is paused for %(minutes)d minutes: %(n)d. Unsure of the password? "
                                  "Choose a new one with \u201cForgot your password?\u201d.",
                                  n=tries_left, minutes=minutes), field="password", tries_left=tries_left)
    return ValidationError(_NOT_CORRECT, field="password")


UNKNOWN_LOGIN_MEMORY_SECONDS = 24 * 3600  # how long an unknown login's failures are remembered


def _unknown_login_failure(login: str):
    """A failure at a login that names no account counts as one at an account would (in the
    rate-limit storage), so the tries-left warning and the lockout answer alike whether or not the
    account exists. Returns (tries left, locked until or None).

    An account's failures are remembered until a sign-in or a lockout; an unknown login's for a
    day (UNKNOWN_LOGIN_MEMORY_SECONDS): only failures a day apart could tell the two apart."""
    cfg = current_app.config
    threshold, seconds = cfg["LOGIN_LOCKOUT_THRESHOLD"], cfg["LOGIN_LOCKOUT_SECONDS"]
    key = "unknown-login:" + fingerprint((login or "").strip().lower().replace("-", "").replace(" ", ""))
    failures = RateLimitItemPerSecond(threshold, UNKNOWN_LOGIN_MEMORY_SECONDS)
    locked = RateLimitItemPerSecond(1, seconds)
    if limiter._key_prefix:  # under the app's own prefix in a shared Redis, as Flask-Limiter's keys
        key = f"{limiter._key_prefix}/{key}"
    try:
        strategy = limiter.limiter
        if not strategy.test(locked, key):
            until = strategy.get_window_stats(locked, key).reset_time
            return 0, datetime.fromtimestamp(until, UTC).replace(tzinfo=None)
        strategy.hit(failures, key)
        remaining = strategy.get_window_stats(failures, key).remaining
        if remaining == 0:  # locked from now, and the count starts again, as for an account
            strategy.hit(locked, key)
            strategy.clear(failures, key)
            return 0, utcnow() + timedelta(seconds=seconds)
    except Exception:  # noqa: BLE001  (limiter not set up, storage down: the plain refusal)
        return threshold, None
    return remaining, None


def authenticate(login: str, password: str, *, ip: str | None = None) -> User:
    """The user for these credentials, or an error. Failures are audited and counted (commit them).

    Known or not, an account answers alike: the same work, the same messages, the same
    tries-left warning and lockout (an unknown login's failures are counted by
    _unknown_login_failure). An account whose registration link was not yet followed is refused
    like a wrong password, without counting it as a failure."""
    global _DUMMY_HASH
    user = find_by_login(login)
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not-a-real-password")
        verify_password(_DUMMY_HASH, password)  # the same work as a real check: no timing hint
        record("auth.signin_failed", ip=ip, reason="unknown", login=(login or "")[:64])
        tries_left, until = _unknown_login_failure(login)
        if until is not None:
            raise LockedOut(_lockout_message(until), field="password")
        raise _not_correct(tries_left)
    user = _lock(user)
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        record("auth.signin_refused", target=user, ip=ip, reason="locked")
        raise LockedOut(_lockout_message(user.locked_until), field="password")
    if not verify_password(user.password_hash, password):
        register_failure(user, ip=ip, reason="password")
        if user.locked_until and user.locked_until > now:
            raise LockedOut(_lockout_message(user.locked_until), field="password")
        raise _not_correct(current_app.config["LOGIN_LOCKOUT_THRESHOLD"] - user.failed_login_count)
    if user.email_confirmation_pending:
        record("auth.signin_refused", target=user, ip=ip, reason="unconfirmed")
        raise ValidationError(_NOT_CORRECT, field="password")
    if not user.is_active:
        record("auth.signin_refused", target=user, ip=ip, reason="disabled")
        raise Forbidden(_l("This account is disabled. Please contact the support desk."), field="password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def register_failure(user: User, *, ip: str | None, reason: str) -> None:
    cfg = current_app.config
    user.failed_login_count = (user.failed_login_count or 0) + 1
    record("auth.signin_failed", target=user, ip=ip, reason=reason, count=user.failed_login_count)
    if user.failed_login_count >= cfg["LOGIN_LOCKOUT_THRESHOLD"]:
        user.locked_until = utcnow() + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
        user.failed_login_count = 0
        record("auth.lockout", target=user, ip=ip, until=user.locked_until.isoformat())


def signed_in(user: User, *, ip: str | None, mfa: bool) -> None:
    """Record a completed sign-in (after the password and, if enrolled, the TOTP step)."""
    user.failed_login_count = 0
    user.locked_until = None
    record("auth.signin", actor=user, target=user, ip=ip, mfa=mfa)


def sign_out(user: User, *, ip: str | None) -> None:
    """End every session of the user (this one and any other)."""
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1))
    record("auth.signout", actor=user, target=user, ip=ip)


def _bump_sessions(user: User) -> None:
    user.session_version = (user.session_version or 1) + 1


# -------------------------------------------------------------------- TOTP

def utcnow_aware():
    from datetime import UTC

    return utcnow().replace(tzinfo=UTC)


def _match_step(secret: str, code: str) -> int | None:
    """The time step (now, or one either side) whose code is `code`, else None."""
    import hmac

    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow_aware())
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(user: User, code: str, *, ip: str | None = None) -> None:
    """Accept a TOTP code once; a wrong or reused code counts as a failed sign-in. A locked-out
    account is refused before its code is looked at, as at the password step."""
    user = _lock(user)
    if user.locked_until and user.locked_until > utcnow():
        record("auth.signin_refused", target=user, ip=ip, reason="locked")
        raise LockedOut(_lockout_message(user.locked_until), field="code")
    step = _match_step(user.totp_secret or "", code) if user.mfa_enabled else None
    if step is not None:
        res = db.session.execute(
            update(User).where(User.id == user.id,
                               or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step).execution_options(synchronize_session=False))
        if res.rowcount == 1:
            db.session.refresh(user)
            return
        reason = "totp_reused"
    else:
        reason = "totp"
    user = _lock(user)
    register_failure(user, ip=ip, reason=reason)
    if user.locked_until and user.locked_until > utcnow():
        raise LockedOut(_lockout_message(user.locked_until), field="code")
    if reason == "totp_reused":
        raise ValidationError(_l("This code was already used. Wait for the next code."), field="code")
    tries_left = current_app.config["LOGIN_LOCKOUT_THRESHOLD"] - user.failed_login_count
    if 0 < tries_left <= WARN_WHEN_TRIES_LEFT:
        raise ValidationError(_l("The code is not correct. Tries left before sign-in is paused for %(minutes)d "
                                 "minutes: %(n)d. Check that your phone's clock is right.", n=tries_left,
                                 minutes=max(1, current_app.config["LOGIN_LOCKOUT_SECONDS"] // 60)), field="code")
    raise ValidationError(_l("The code is not correct."), field="code")


def start_totp_enrolment(user: User) -> tuple[str, str]:
    """A new pending secret and its otpauth:// URI (shown once; active after confirm_totp)."""
    secret = pyotp.random_base32()
    user.totp_pending_secret = secret
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return secret, uri


def confirm_totp(user: User, *, password: str, code: str, ip: str | None = None) -> None:
    """Turn on TOTP with the pending secret, after the current password and a code from it."""
    if not verify_password(user.password_hash, password):
        raise ValidationError(_l("Your current password is not correct."), field="current_password")
    secret = user.totp_pending_secret
    if not secret:
        raise ValidationError(_l("Start again: the setup has expired."), field="code")
    step = _match_step(secret, code)
    if step is None:
        raise ValidationError(_l("The code is not correct."), field="code")
    user.totp_secret, user.totp_pending_secret = secret, None
    user.totp_last_step, user.mfa_enabled = step, True
    record("account.mfa_enabled", actor=user, target=user, ip=ip)


def disable_totp(user: User, *, password: str, ip: str | None = None) -> None:
    """Customers may turn TOTP off (with their password); staff may not."""
    if user.is_staff:
        raise Forbidden(_l("Staff accounts must keep two-factor sign-in."))
    if not verify_password(user.password_hash, password):
        raise ValidationError(_l("Your current password is not correct."), field="current_password")
    user.mfa_enabled, user.totp_secret, user.totp_last_step = False, None, None
    record("account.mfa_disabled", actor=user, target=user, ip=ip)


# --------------------------------------------------------------- passwords

def change_password(user: User, *, current: str, new: str, ip: str | None = None) -> None:
    if not verify_password(user.password_hash, current):
        raise ValidationError(_l("Your current password is not correct."), field="current_password")
    check_password_strength(new, user_inputs=[user.full_name, user.email, user.company_name], field="new_password")
    user.password_hash = hash_password(new)
    _bump_sessions(user)
    record("account.password_changed", actor=user, target=user, ip=ip)
    queue_mail(user.email, _l("Your eBiz password was changed"), "password_changed", user=user)


def request_password_reset(email: str, *, ip: str | None = None) -> None:
    """Email a reset link when an active account has this email; silent otherwise (no hint)."""
    try:
        email_n = identity.normalise_email(email)
    except ValidationError:
        return
    user = db.session.scalar(select(User).where(func.lower(User.email) == email_n))
    if user is None or not user.is_active:
        record("account.password_reset_requested", ip=ip, known=False)
        return
    token = make_token("password-reset", {"uid": user.id, "fp": fingerprint(user.id, user.password_hash)})
    record("account.password_reset_requested", target=user, ip=ip, known=True)
    queue_mail(user.email, _l("Reset your eBiz password"), "password_reset", user=user,
               link=public_url("accounts.reset_password", token=token),
               minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60)


def user_for_reset_token(token: str, *, lock: bool = False) -> User:
    """The user a live reset token belongs to; else ValidationError (expired, used or invalid).
    `lock`: about to use it: the check is made on the locked row, so two requests with one link
    cannot both pass it."""
    try:
        data = read_token("password-reset", token)
    except TokenError as exc:
        if exc.reason == "expired":
            raise ValidationError(_l("This link has expired. Ask for a new one.")) from None
        raise ValidationError(_l("This link is not valid. Ask for a new one.")) from None
    user = db.session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is not None and lock:
        user = _lock(user)
    if user is None or not user.is_active or data.get("fp") != fingerprint(user.id, user.password_hash):
        raise ValidationError(_l("This link was already used or is no longer valid. Ask for a new one."))
    return user


def reset_password(token: str, new: str, *, ip: str | None = None) -> User:
    user = user_for_reset_token(token, lock=True)
    check_password_strength(new, user_inputs=[user.full_name, user.email, user.company_name], field="password")
    user.password_hash = hash_password(new)
    user.failed_login_count, user.locked_until = 0, None
    user.email_confirmation_pending = False  # the link came to the mailbox: the address is theirs
    _bump_sessions(user)
    record("account.password_reset", actor=user, target=user, ip=ip)
    queue_mail(user.email, _l("Your eBiz password was changed"), "password_changed", user=user)
    return user


# ------------------------------------------------------------------- email

def request_email_change(user: User, *, password: str, new_email: str, ip: str | None = None) -> str:
    """Send a confirmation link to the new address and tell the old one; nothing changes yet.

    An address that already has an account is not told to the form (that would test addresses):
    the page says the same, and that address is sent a notice instead of a link."""
    if not verify_password(user.password_hash, password):
        raise ValidationError(_l("Your current password is not correct."), field="current_password")
    email_n = identity.normalise_email(new_email, field="new_email")
    if email_n == user.email:
        raise ValidationError(_l("This is already your email address."), field="new_email")
    if _email_taken(email_n, exclude_id=user.id):
        record("account.email_change_refused", actor=user, target=user, ip=ip, reason="email_taken")
        queue_mail(email_n, _l("Someone tried to move an eBiz account to your email address"),
                   "email_change_taken", login_link=public_url("accounts.login"))
        return email_n
    token = make_token("email-change", {"uid": user.id, "new": email_n, "fp": _email_fingerprint(user)})
    record("account.email_change_requested", actor=user, target=user, ip=ip, new_email=email_n)
    queue_mail(email_n, _l("Confirm your new eBiz email address"), "email_change_confirm", user=user,
               new_email=email_n, link=public_url("accounts.confirm_email", token=token))
    queue_mail(user.email, _l("A change of your eBiz email address was requested"), "email_change_notice",
               user=user, new_email=email_n)
    return email_n


def _email_fingerprint(user: User) -> str:
    """Binds an email-change link to the address and to how many times it has changed (kept on the
    account, not counted from the audit trail): a used link stays used even after the address
    changes back."""
    return fingerprint(user.id, user.email, user.email_change_count or 0)


def email_change_target(token: str, *, lock: bool = False) -> tuple[User, str]:
    """The account and the new address of a live email-change link; else ValidationError."""
    try:
        data = read_token("email-change", token)
    except TokenError as exc:
        if exc.reason == "expired":
            raise ValidationError(_l("This link has expired. Ask for a new one.")) from None
        raise ValidationError(_l("This link is not valid.")) from None
    user = db.session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is not None and lock:
        user = _lock(user)
    if user is None or data.get("fp") != _email_fingerprint(user) or not isinstance(data.get("new"), str):
        raise ValidationError(_l("This link was already used or is no longer valid."))
    return user, data["new"]


def confirm_email_change(token: str, *, ip: str | None = None) -> User:
    user, new = email_change_target(token, lock=True)
    if _email_taken(new, exclude_id=user.id):
        raise Conflict(_l("An account with this email already exists."))
    old = user.email
    user.email = new
    user.email_change_count = (user.email_change_count or 0) + 1
    try:
        _insert_unique(user)
    except ValidationError:
        raise Conflict(_l("An account with this email already exists.")) from None
    record("account.email_changed", actor=user, target=user, ip=ip, old_email=old, new_email=new)
    queue_mail(old, _l("Your eBiz email address was changed"), "email_changed", user=user, old_email=old,
               new_email=new)
    return user


# ----------------------------------------------------------------- profile

MAX_ADDRESS = 500


def update_profile(user: User, *, full_name: str, phone: str | None, address: str | None,
                   ip: str | None = None) -> list[str]:
    """A customer changes what is theirs to change: name, phone, address (identity numbers are
    corrected only at a counter). Returns the fields that changed; an audit event names them."""
    errors: list[ValidationError] = []
    name = " ".join((full_name or "").split())
    if not name:
        errors.append(ValidationError(_l("Enter your full name."), field="full_name"))
    elif len(name) > 200:
        errors.append(ValidationError(_l("Use at most %(n)d characters.", n=200), field="full_name"))
    try:
        phone_n = identity.normalise_phone(phone)
    except ValidationError as exc:
        errors.append(exc)
        phone_n = None
    lines = [" ".join(line.split()) for line in (address or "").replace("\r\n", "\n").split("\n")]
    address_n = "\n".join(line for line in lines if line) or None
    if address_n and len(address_n) > MAX_ADDRESS:
        errors.append(ValidationError(_l("Use at most %(n)d characters.", n=MAX_ADDRESS), field="address"))
    if errors:
        first = errors[0]
        raise ValidationError(first.message, field=first.field,
                              errors={e.field: str(e.message) for e in reversed(errors)})
    user = _lock(user)
    changed = [f for f, v in (("full_name", name), ("phone", phone_n), ("address", address_n))
               if getattr(user, f) != v]
    if not changed:
        return []
    user.full_name, user.phone, user.address = name, phone_n, address_n
    record("account.profile_changed", actor=user, target=user, ip=ip, fields=changed)
    return changed


# ------------------------------------------------------------ staff actions

def _require_admin(actor: User) -> None:
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def set_active(actor: User, user: User, active: bool, *, ip: str | None = None) -> None:
    """Enable or disable an account; disabling ends its sessions."""
    _require_admin(actor)
    if user.id == actor.id:
        raise Forbidden(_l("You cannot disable your own account."))
    user = _lock(user)
    if bool(user.active) == active:
        return
    user.active = active
    if not active:
        _bump_sessions(user)
    record("account.enabled" if active else "account.disabled", actor=actor, target=user, ip=ip)


def set_role(actor: User, user: User, role: str, *, counter=None, ip: str | None = None) -> None:
    """Assign a role (and, for counter staff, its counter). Staff must enrol TOTP at next sign-in."""
    _require_admin(actor)
    if role not in set(Role):
        raise ValidationError(_l("Choose a role."), field="role")
    if role == Role.COUNTER and counter is None:
        raise ValidationError(_l("Counter staff belong to a counter: choose one."), field="counter_id")
    if user.id == actor.id and role != Role.ADMIN:
        raise Forbidden(_l("You cannot remove your own administrator role."))
    user = _lock(user)
    new_counter_id = counter.id if (counter is not None and role == Role.COUNTER) else None
    if user.role == role and user.counter_id == new_counter_id:
        return
    old_role, old_counter = user.role, user.counter_id
    user.role, user.counter_id = role, new_counter_id
    if role in STAFF_ROLES and old_role not in STAFF_ROLES:
        _bump_sessions(user)  # sign in again, through the TOTP step
    record("account.role_changed", actor=actor, target=user, ip=ip, old_role=old_role, new_role=role,
           old_counter_id=old_counter, new_counter_id=new_counter_id)


def reset_mfa(actor: User, user: User, *, ip: str | None = None) -> None:
    """An administrator clears a user's TOTP (lost device); staff enrol again at their next sign-in."""
    _require_admin(actor)
    if user.id == actor.id:
        raise Forbidden(_l("Ask another administrator to reset your own two-factor sign-in."))
    user = _lock(user)
    if not user.mfa_enabled and not user.totp_pending_secret:
        return
    user.mfa_enabled, user.totp_secret, user.totp_pending_secret, user.totp_last_step = False, None, None, None
    _bump_sessions(user)
    record("account.mfa_reset", actor=actor, target=user, ip=ip)


def upgrade_to_primary(actor: User, user: User, *, counter, document_ref: str, ip: str | None = None) -> None:
    """Counter staff verified the customer's identity document: the customer becomes Primary."""
    if actor is None or actor.role != Role.COUNTER or counter is None or actor.counter_id != counter.id:
        raise Forbidden(_l("Only staff of this counter may verify identities here."))
    if user.role != Role.CUSTOMER:
        raise ValidationError(_l("Only customers have a tier."))
    ref = " ".join((document_ref or "").split())
    if not ref:
        raise ValidationError(_l("Record the document you checked."), field="document_number")
    user = _lock(user)
    if not user.is_active:
        raise Forbidden(_l("This account is disabled."))
    if user.tier == Tier.PRIMARY:
        raise Conflict(_l("This customer is already Primary."))
    user.tier = Tier.PRIMARY
    user.primary_verified_at = utcnow()
    record("account.tier_changed", actor=actor, target=user, ip=ip, old_tier=Tier.REGULAR,
           new_tier=Tier.PRIMARY, counter=counter.code, document=ref)
    queue_mail(user.email, _l("Your eBiz account is now Primary"), "primary_upgrade", user=user, counter=counter)


# -------------------------------------------------------------------- companies

def company_by_reg_no(reg_no: str) -> User | None:
    """The company account registered under this (normalised) SSM number, or None."""
    return db.session.scalar(select(User).where(User.kind == Kind.COMPANY, User.role == Role.CUSTOMER,
                                                User.company_reg_no == reg_no))


def set_company_representative(company: User, *, full_name: str, mykad: str) -> User:
    """The companies domain changed the representative: the account now names the new one
    (name and MyKad), and every session of the account ends (the old representative's too)."""
    company = _lock(company)
    if company.kind != Kind.COMPANY:
        raise ValidationError(_l("Only company accounts have a representative."))
    company.full_name, company.rep_mykad = full_name, mykad
    _bump_sessions(company)
    return company


def change_email_on_evidence(user_id: int, new_email: str, *, actor_id: int, evidence: str,
                             ip: str | None = None) -> User:
    """Set a customer's email when the old address is lost, on identity evidence a support agent
    recorded (`evidence`: the support ticket's reference) and after the new address confirmed a
    link. Every other session ends; the audit event names the agent and the evidence."""
    user = db.session.get(User, user_id)
    if user is None or user.is_staff:
        raise NotFound()
    user = _lock(user)
    email_n = identity.normalise_email(new_email, field="new_email")
    if _email_taken(email_n, exclude_id=user.id):
        raise Conflict(_l("An account with this email already exists."))
    old = user.email
    user.email = email_n
    user.email_change_count = (user.email_change_count or 0) + 1  # earlier change links die with the old address
    try:
        _insert_unique(user)
    except ValidationError:
        raise Conflict(_l("An account with this email already exists.")) from None
    _bump_sessions(user)
    record("account.email_changed", actor=actor_id, target=user, ip=ip, old_email=old, new_email=email_n,
           evidence=evidence[:60])
    queue_mail(old, _l("Your eBiz email address was changed"), "email_changed", user=user, old_email=old,
               new_email=email_n)
    return user


def carry_over_primary(user: User, *, source: str, ip: str | None = None) -> None:
    """Primary from the old system's counter verification (migration): `source` names the old record."""
    if user.role != Role.CUSTOMER or user.tier == Tier.PRIMARY:
        return
    user.tier = Tier.PRIMARY
    user.primary_verified_at = utcnow()
    record("account.primary_carried_over", actor=user, target=user, ip=ip, source=source)
