"""The counter desk: find a customer, record the identity check, upgrade to Primary.

Invariants:
- Only counter staff act at a counter, and only at their own counter.
- An upgrade records the document seen (type and number), which must match
  the identity number on the customer's record: MyKad for an individual,
  passport for a non-citizen, and for a company its registration number or
  the representative's MyKad. The upgrade itself (tier, audit event, mail) is
  `accounts.service.upgrade_to_primary`, in the same transaction.
"""

import re
from datetime import time

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts import identity
from ..accounts import service as accounts
from ..accounts.models import Kind, Role, User
from ..accounts.search import LIMIT, find_users
from ..audit.service import record
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from .models import Counter

DOCUMENT_TYPES = {
    "mykad": _l("MyKad"),
    "passport": _l("Passport"),
    "company_cert": _l("Company registration certificate (SSM)"),
}


def counter_of(actor: User) -> Counter:
    """The counter this staff member works at (Forbidden when none)."""
    if actor is None or actor.role != Role.COUNTER or not actor.counter_id:
        raise Forbidden(_l("Only counter staff may use the counter desk."))
    counter = db.session.get(Counter, actor.counter_id)
    if counter is None or not counter.active:
        raise Forbidden(_l("Your counter is not active."))
    return counter


def find_customers(q: str, limit: int = LIMIT) -> list[User]:
    """At most `limit` customers by name, email or identity number, whole or in part (accounts.search)."""
    return find_users(q, role=Role.CUSTOMER, limit=limit)


def _document_number(doc_type: str, number: str) -> str:
    """The document number as stored on accounts (ValidationError when malformed)."""
    if doc_type == "mykad":
        return identity.normalise_mykad(number, field="document_number")
    if doc_type == "passport":
        return identity.normalise_passport(number, field="document_number")
    return identity.normalise_company_reg_no(number, field="document_number")


def _matches(user: User, doc_type: str, number: str) -> bool:
    if doc_type == "mykad":
        return number in {user.mykad, user.rep_mykad} - {None}
    if doc_type == "passport":
        return number == user.passport_no
    return user.kind == Kind.COMPANY and number == user.company_reg_no


def verify_and_upgrade(actor: User, customer: User, *, document_type: str, document_number: str,
                       ip: str | None = None) -> None:
    """Record the identity document seen at the counter and make the customer Primary."""
    counter = counter_of(actor)
    if document_type not in DOCUMENT_TYPES:
        raise ValidationError(_l("Choose the document you checked."), field="document_type")
    number = _document_number(document_type, document_number)
    if not _matches(customer, document_type, number):
        raise ValidationError(_l("This document does not match the identity number of the account."),
                              field="document_number")
    ref = f"{document_type}:{number}"
    accounts.upgrade_to_primary(actor, customer, counter=counter, document_ref=ref, ip=ip)


def open_counters() -> list[Counter]:
    """Every open counter, HQ first, then by state."""
    return list(db.session.scalars(select(Counter).where(Counter.active.is_(True))
                                   .order_by(Counter.is_hq.desc(), Counter.state, Counter.name)))


# ---------------------------------------------------------------- where and when counters open

OPEN_DAYS = {
    "mon-fri": _l("Monday to Friday"),
    "sun-thu": _l("Sunday to Thursday"),  # Kedah, Kelantan and Terengganu rest on Friday and Saturday
}
_PHONE = re.compile(r"\+?[0-9][0-9 -]{5,18}[0-9]")


def all_counters() -> list[Counter]:
    return list(db.session.scalars(select(Counter).order_by(Counter.is_hq.desc(), Counter.code)))


def _lines(text: str | None) -> str | None:
    """Text kept line by line (an address), each line's spaces tidied, empty lines dropped."""
    return "\n".join(" ".join(line.split()) for line in (text or "").splitlines() if line.strip()) or None


def get_counter(counter_id: int) -> Counter:
    counter = db.session.get(Counter, counter_id)
    if counter is None:
        raise NotFound()
    return counter


def save_counter(actor: User, counter: Counter, *, name: str, state: str, address: str | None, phone: str | None,
                 open_days: str | None, opens_at: time | None, closes_at: time | None, active: bool,
                 ip: str | None = None) -> Counter:
    """An administrator sets where a counter is, its phone and its opening hours; audited."""
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden()
    name, state = (name or "").strip(), (state or "").strip()
    if not name:
        raise ValidationError(_l("Enter the counter's name."), field="name")
    if not state:
        raise ValidationError(_l("Enter the state."), field="state")
    phone = " ".join((phone or "").split()) or None
    if phone and not _PHONE.fullmatch(phone):
        raise ValidationError(_l("Enter a phone number in digits, with its area code."), field="phone")
    open_days = open_days or None
    if open_days is not None and open_days not in OPEN_DAYS:
        raise ValidationError(_l("Choose the working days."), field="open_days")
    if (open_days, opens_at, closes_at) != (None, None, None):
        if open_days is None:
            raise ValidationError(_l("Choose the working days."), field="open_days")
        if opens_at is None or closes_at is None:
            raise ValidationError(_l("Enter both the opening and the closing time."), field="opens_at")
        if opens_at >= closes_at:
            raise ValidationError(_l("The counter must close after it opens."), field="closes_at")
    if counter.is_hq and not active:
        raise ValidationError(_l("The HQ counter takes wallet top-ups and cannot be closed here."), field="active")
    new = {"name": name, "state": state, "address": _lines(address), "phone": phone,
           "open_days": open_days, "opens_at": opens_at, "closes_at": closes_at, "active": bool(active)}
    changed = sorted(k for k, v in new.items() if getattr(counter, k) != v)
    for key, value in new.items():
        setattr(counter, key, value)
    db.session.flush()
    if changed:
        record("counter.saved", actor=actor, target=counter, ip=ip, code=counter.code, changed=changed)
    return counter
