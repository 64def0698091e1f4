"""Companies: representatives (and their history) and runner OTPs (issue, revoke, redeem, spend).

Invariants:
- Only a company account (a customer of kind "company") issues or revokes runner OTPs, and
  only its own: every lookup is by public reference *and* company.
- A runner OTP code is 8 digits from `secrets`, returned once by `issue_otp` (shown once on
  screen) and never stored, logged or mailed: only `code_hash(company_id, code)` (HMAC-SHA256
  under the app's secret key). The company's mail says an OTP was created, without the code.
- `redeem_otp` is the only way an OTP is used: the company registration number, the code
  and the runner's identity number must all match a live mandate (not expired, not revoked,
  not used, for this counter or any counter). It first locks the company's row in
  `runner_otp_lock`, so tries for one company are serialised across workers; every refusal
  counts there, and the fifth in a row locks the company's OTPs for 15 minutes. The OTP goes
  live -> used by a conditional UPDATE, so of two counters entering it at once exactly one
  succeeds. Every try, accepted or refused, is audited with the counter and staff member;
  a refusal raises `OtpRefused`, whose audit event and count the caller commits.
- `spend(otp_id, amount)` raises the OTP's `spent_sen` by a conditional UPDATE
  (`spent + amount <= cap`): two sales that together exceed the cap cannot both pass.
- A representative change is an administrator's, with a reason and the company's support ticket
  reference. This domain sits below the support desk and never imports it: the caller (the admin
  view, a front desk) validates the ticket with `support.service.ticket_for_action` first, in the
  same transaction, and passes its canonical reference here. The change closes the current
  history row, opens the new one, renames the account's representative (which ends every session
  of the account), is audited and mailed to the company naming the ticket, all in one transaction.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, time, timedelta

import holidays
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..accounts import identity
from ..accounts import service as accounts
from ..accounts.models import Kind, Role, User
from ..audit.service import record
from ..clock import format_local, from_local, to_local, utcnow
from ..db import begin_write, dialect_insert, lock_one
from ..errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ..extensions import db
from ..money import format_sen
from ..notifications.service import queue_mail
from ..refs import new_reference
from .models import OtpStatus, Representative, RunnerOtp, RunnerOtpLock

OTP_DIGITS = 8
MAX_OTP_DAYS = 7
MAX_FAILURES = 5
LOCK_MINUTES = 15
MAX_CAP_SEN = 5_000_000  # RM 50,000: a runner carries a mandate, not the company's whole budget
ID_TYPES = {"mykad": _l("MyKad"), "passport": _l("Passport")}


class OtpRefused(Forbidden):
    """A runner OTP try was refused. Its audit event (and the wrong-try count) must be
    committed by the caller, not rolled back with the request."""

    default_message = _l("The registration number, OTP and identity number do not match a live runner OTP.")


# ------------------------------------------------------------------ company accounts

def is_company(user) -> bool:
    return bool(user is not None and getattr(user, "role", None) == Role.CUSTOMER
                and getattr(user, "kind", None) == Kind.COMPANY)


def require_company(user) -> User:
    if not is_company(user):
        raise Forbidden(_l("Only company accounts can do this."))
    return user


def current_representative(company: User) -> Representative:
    """The current representative; a company that never changed it is represented by what it
    registered with (a row not stored)."""
    rep = db.session.scalar(select(Representative).where(Representative.company_id == company.id,
                                                         Representative.until.is_(None)))
    if rep is not None:
        return rep
    return Representative(company_id=company.id, full_name=company.full_name, mykad=company.rep_mykad or "",
                          since=company.created_at)


def representative_history(company: User) -> list[Representative]:
    """Every representative, the current one first."""
    rows = list(db.session.scalars(select(Representative).where(Representative.company_id == company.id)
                                   .order_by(Representative.since.desc(), Representative.id.desc())))
    return rows or [current_representative(company)]


def change_representative(admin: User, company: User, *, full_name: str, mykad: str, reason: str,
                          ticket_reference: str, ip: str | None = None) -> Representative:
    """An administrator names a new representative on the strength of the company's support ticket
    (`ticket_reference`, already checked by the support desk: see the module docstring)."""
    if getattr(admin, "role", None) != Role.ADMIN:
        raise Forbidden(_l("Only an administrator can change a company's representative."))
    require_company(company)
    name = " ".join((full_name or "").split())
    if not name:
        raise ValidationError(_l("Enter the new representative's name."), field="full_name")
    if len(name) > 200:
        raise ValidationError(_l("Keep the name under 200 characters."), field="full_name")
    number = identity.normalise_mykad(mykad, field="mykad")
    why = " ".join((reason or "").split())
    if not why:
        raise ValidationError(_l("Give the reason for the change."), field="reason")
    if len(why) > 300:
        raise ValidationError(_l("Keep the reason under 300 characters."), field="reason")
    ref = (ticket_reference or "").strip()
    if not ref or len(ref) > 60:  # the caller passes the checked ticket's reference: never blank
        raise ValidationError(_l("This action needs an active support ticket assigned to you."), field="ticket")
    begin_write()
    old = current_representative(company)
    if old.mykad == number:
        raise ValidationError(_l("This person is already the company's representative."), field="mykad")
    now = utcnow()
    if old.id is None:  # the representative the company registered with enters the history now
        db.session.add(old)
    old.until = now
    db.session.flush()
    new = Representative(company_id=company.id, full_name=name, mykad=number, since=now, reason=why,
                         reference=ref, changed_by_id=admin.id)
    db.session.add(new)
    company = accounts.set_company_representative(company, full_name=name, mykad=number)
    db.session.flush()
    record("company.representative_changed", actor=admin, target=company, ip=ip, reason=why, ticket=ref,
           old_mykad=old.mykad, new_mykad=number)
    queue_mail(company.email, _l("The representative of %(company)s on eBiz has changed",
                                 company=company.display_name),
               "company_representative_changed", company=company, old=old, new=new, ticket_reference=ref)
    return new


# ------------------------------------------------------------------ runner OTPs: issuing

def code_hash(company_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"runner-otp:{company_id}:{code}".encode(), hashlib.sha256).hexdigest()


def default_expiry(now=None):
    """The end (23:59 Malaysia time) of the next working day: not a weekend, not a Malaysian
    public holiday (the `holidays` calendar)."""
    local = to_local(now or utcnow())
    calendar = holidays.country_holidays("MY", years=[local.year, local.year + 1])
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5 or day in calendar:
        day += timedelta(days=1)
    return from_local(datetime.combine(day, time(23, 59)))


def normalise_runner_id(id_type: str, number: str) -> str:
    if id_type == "mykad":
        return identity.normalise_mykad(number, field="runner_id_no")
    if id_type == "passport":
        return identity.normalise_passport(number, field="runner_id_no")
    raise ValidationError(_l("Choose the runner's identity document."), field="runner_id_type")


def issue_otp(company: User, *, runner_name: str, runner_id_type: str, runner_id_no: str, expires_at=None,
              may_collect: bool = True, may_buy: bool = False, may_use_wallet: bool = False, cap_sen: int = 0,
              counter_id: int | None = None, ip: str | None = None,
              now=None) -> tuple[RunnerOtp, str]:
    """A new runner OTP for `company`. Returns (otp, code): the code exists only in this answer.

    `counter_id`: a counter the caller checked is open, or None for any counter."""
    require_company(company)
    if not company.is_active:
        raise Forbidden(_l("This account is disabled."))
    now = now or utcnow()
    name = " ".join((runner_name or "").split())
    if not name:
        raise ValidationError(_l("Enter the runner's name."), field="runner_name")
    if len(name) > 200:
        raise ValidationError(_l("Keep the name under 200 characters."), field="runner_name")
    number = normalise_runner_id(runner_id_type, runner_id_no)
    expires_at = expires_at or default_expiry(now)
    if expires_at <= now:
        raise ValidationError(_l("Choose a time in the future."), field="expires_at")
    if expires_at > now + timedelta(days=MAX_OTP_DAYS):
        raise ValidationError(_l("A runner OTP lasts at most %(n)s days.", n=MAX_OTP_DAYS), field="expires_at")
    if isinstance(cap_sen, bool) or not isinstance(cap_sen, int) or cap_sen < 0:
        raise ValidationError(_l("Enter a spending cap of RM 0.00 or more."), field="cap")
    if cap_sen > MAX_CAP_SEN:
        raise ValidationError(_l("The spending cap may be at most %(max)s.", max=format_sen(MAX_CAP_SEN)),
                              field="cap")
    may_buy, may_use_wallet = bool(may_buy), bool(may_use_wallet)
    if may_use_wallet and not company.is_primary:
        raise TierRequired(_l("Only a Primary company can let a runner pay from its wallet."),
                           field="may_use_wallet")
    if may_use_wallet:
        may_buy = True
    if may_buy and cap_sen == 0:
        raise ValidationError(_l("A runner who buys needs a spending cap above RM 0.00 (RM 0.00 means "
                                 "collection only)."), field="cap")
    if not may_buy:
        cap_sen = 0
    if not may_collect and not may_buy:
        raise ValidationError(_l("Choose what the runner may do."), field="may_collect")
    code = "".join(secrets.choice("0123456789") for _ in range(OTP_DIGITS))
    otp = RunnerOtp(reference=new_reference("OTP"), company_id=company.id, code_hash=code_hash(company.id, code),
                    runner_name=name, runner_id_type=runner_id_type, runner_id_no=number,
                    may_collect=bool(may_collect), may_buy=may_buy, may_use_wallet=may_use_wallet, cap_sen=cap_sen,
                    spent_sen=0, counter_id=counter_id, status=OtpStatus.LIVE, created_at=now,
                    created_by_id=company.id, expires_at=expires_at)
    db.session.add(otp)
    db.session.flush()
    record("runner_otp.issued", actor=company, target=otp, ip=ip, reference=otp.reference, runner=name,
           cap_sen=cap_sen, may_collect=otp.may_collect, may_buy=may_buy, may_use_wallet=may_use_wallet,
           counter_id=counter_id, expires_at=expires_at.isoformat())
    # The company is told an OTP exists, never the code: mail bodies stay in the outbox table,
    # and only the code's hash may be stored anywhere.
    queue_mail(company.email, _l("A runner OTP was created for %(name)s", name=name), "company_runner_otp",
               company=company, otp=otp, expires=format_local(expires_at))
    return otp, code


def otps_of(company: User) -> list[RunnerOtp]:
    """The company's runner OTPs, newest first."""
    require_company(company)
    return list(db.session.scalars(select(RunnerOtp).where(RunnerOtp.company_id == company.id)
                                   .order_by(RunnerOtp.created_at.desc(), RunnerOtp.id.desc())))


def otp_for_company(company: User, reference: str) -> RunnerOtp:
    require_company(company)
    otp = db.session.scalar(select(RunnerOtp).where(RunnerOtp.reference == (reference or "").strip().upper(),
                                                    RunnerOtp.company_id == company.id))
    if otp is None:
        raise NotFound()
    return otp


def revoke_otp(company: User, reference: str, *, ip: str | None = None) -> RunnerOtp:
    """The company withdraws a live OTP (before it is used); only its own."""
    otp = otp_for_company(company, reference)
    begin_write()
    now = utcnow()
    done = db.session.execute(update(RunnerOtp).where(RunnerOtp.id == otp.id, RunnerOtp.status == OtpStatus.LIVE)
                              .values(status=OtpStatus.REVOKED, revoked_at=now)).rowcount
    db.session.refresh(otp)
    if not done:
        raise Conflict(_l("This OTP was already used or revoked."))
    record("runner_otp.revoked", actor=company, target=otp, ip=ip, reference=otp.reference)
    return otp


def otp_state(otp: RunnerOtp, now=None) -> str:
    """live, used, revoked or expired (an unused OTP past its time)."""
    if otp.status == OtpStatus.LIVE and otp.is_expired(now):
        return "expired"
    return otp.status


# ------------------------------------------------------------------ runner OTPs: at the counter

def _lock_row(company_id: int) -> RunnerOtpLock:
    """The company's try-counter row, created if needed and locked until the commit."""
    begin_write()
    db.session.execute(dialect_insert()(RunnerOtpLock).values(company_id=company_id, failures=0)
                       .on_conflict_do_nothing(index_elements=["company_id"]))
    return lock_one(select(RunnerOtpLock).where(RunnerOtpLock.company_id == company_id))


def _refuse(lock: RunnerOtpLock | None, why: str, message, *, staff, counter_id, company, otp, ip, now):
    locked_now = False
    if lock is not None:
        lock.failures += 1
        if lock.failures >= MAX_FAILURES:
            lock.failures, lock.locked_until, locked_now = 0, now + timedelta(minutes=LOCK_MINUTES), True
    record("runner_otp.refused", actor=staff, target=otp, target_type="RunnerOtp" if otp else None, ip=ip,
           reason=why, counter_id=counter_id, company_id=getattr(company, "id", None),
           reference=getattr(otp, "reference", None), locked=locked_now)
    db.session.flush()
    if locked_now:
        message = _l("Too many wrong tries: this company's runner OTPs are locked until %(time)s.",
                     time=format_local(lock.locked_until, "%H:%M"))
    raise OtpRefused(message, field="code")


def redeem_otp(*, staff: User, counter_id: int, company_reg_no: str, code: str, runner_id_no: str,
               ip: str | None = None, now=None) -> RunnerOtp:
    """Use a runner OTP at a counter (see the module docstring). Returns the OTP, now used."""
    if getattr(staff, "role", None) != Role.COUNTER or staff.counter_id != counter_id:
        raise Forbidden(_l("Only staff of this counter may serve runners here."))
    now = now or utcnow()
    ctx = dict(staff=staff, counter_id=counter_id, ip=ip, now=now)
    try:
        reg_no = identity.normalise_company_reg_no(company_reg_no, field="company_reg_no")
    except ValidationError as exc:
        record("runner_otp.refused", actor=staff, ip=ip, reason="malformed_reg_no", counter_id=counter_id)
        raise OtpRefused(exc.message, field="company_reg_no") from None
    company = accounts.company_by_reg_no(reg_no)
    if company is None or not company.is_active:
        _refuse(None, "unknown_company", OtpRefused.default_message, company=None, otp=None, **ctx)
    lock = _lock_row(company.id)
    if lock.locked_until is not None and lock.locked_until > now:
        record("runner_otp.refused", actor=staff, ip=ip, reason="locked", counter_id=counter_id,
               company_id=company.id)
        db.session.flush()
        raise OtpRefused(_l("Too many wrong tries: this company's runner OTPs are locked until %(time)s.",
                            time=format_local(lock.locked_until, "%H:%M")), field="code")
    digits = "".join((code or "").split())
    otp = None
    if digits.isascii() and digits.isdigit() and len(digits) == OTP_DIGITS:
        otp = db.session.scalar(select(RunnerOtp).where(RunnerOtp.company_id == company.id,
                                                        RunnerOtp.code_hash == code_hash(company.id, digits))
                                .order_by(RunnerOtp.id.desc()))
    if otp is None:
        _refuse(lock, "wrong_code", OtpRefused.default_message, company=company, otp=None, **ctx)
    if otp.status == OtpStatus.USED:
        _refuse(lock, "used", _l("This OTP was already used."), company=company, otp=otp, **ctx)
    if otp.status == OtpStatus.REVOKED:
        _refuse(lock, "revoked", _l("The company revoked this OTP."), company=company, otp=otp, **ctx)
    if otp.is_expired(now):
        _refuse(lock, "expired", _l("This OTP has expired."), company=company, otp=otp, **ctx)
    try:
        id_no = normalise_runner_id(otp.runner_id_type, runner_id_no)
    except ValidationError:
        id_no = None
    if id_no != otp.runner_id_no:
        _refuse(lock, "wrong_runner", _l("The identity document does not match the runner named on this OTP."),
                company=company, otp=otp, **ctx)
    if otp.counter_id is not None and otp.counter_id != counter_id:
        _refuse(lock, "other_counter", _l("This OTP is for another counter."), company=company, otp=otp, **ctx)
    done = db.session.execute(
        update(RunnerOtp).where(RunnerOtp.id == otp.id, RunnerOtp.status == OtpStatus.LIVE,
                                RunnerOtp.expires_at > now)
        .values(status=OtpStatus.USED, used_at=now, used_counter_id=counter_id, used_by_id=staff.id)).rowcount
    if not done:  # used at another counter a moment ago
        _refuse(lock, "used", _l("This OTP was already used."), company=company, otp=otp, **ctx)
    lock.failures = 0
    db.session.refresh(otp)
    record("runner_otp.used", actor=staff, target=otp, ip=ip, reference=otp.reference, counter_id=counter_id,
           company_id=company.id)
    return otp


def spend(otp_id: int, amount_sen: int) -> None:
    """Count `amount_sen` against the OTP's cap (Conflict when it would go over; nothing changes)."""
    if isinstance(amount_sen, bool) or not isinstance(amount_sen, int) or amount_sen <= 0:
        raise ValidationError(_l("The amount must be more than RM 0.00."))
    begin_write()
    done = db.session.execute(update(RunnerOtp).where(RunnerOtp.id == otp_id,
                                                      RunnerOtp.spent_sen + amount_sen <= RunnerOtp.cap_sen)
                              .values(spent_sen=RunnerOtp.spent_sen + amount_sen)).rowcount
    if not done:
        otp = db.session.get(RunnerOtp, otp_id, populate_existing=True)
        left = max(0, otp.cap_sen - otp.spent_sen) if otp else 0
        raise Conflict(_l("This sale is over the runner's spending cap: %(left)s is left of the mandate.",
                          left=format_sen(left)), field="cap")


def company_for_session(company_id: int) -> User:
    user = db.session.get(User, company_id)
    if not is_company(user):
        raise NotFound()
    return user


