"""The counter desk: find a customer, record the identity check, upgrade to Primary.

Invariants:
- Only counter staff act at a counter, and only at their own counter.
- An upgrade records the document seen (type and number), which must match
  the identity number on the customer's record: MyKad for an individual,
  passport for a non-citizen. The upgrade itself (tier, audit event, mail) is
  `accounts.service.upgrade_to_primary`, in the same transaction.
- A company account is upgraded only with a person present (`verify_and_upgrade_company`):
  its current representative (their MyKad must be the representative's), otherwise the
  company's owner, who shows their MyKad or passport *and* the company's registration
  certificate (the only proof eBiz has that they own it). Who came, the documents seen and
  the identity check done are recorded (audit event "company.primary_check"); a mismatch is
  refused with its reason and changes nothing.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..accounts import identity
from ..accounts import service as accounts
from ..accounts.models import Kind, Role, User
from ..audit.service import record
from ..companies import service as companies
from ..errors import Forbidden, ValidationError
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


def find_customers(q: str, limit: int = 20) -> list[User]:
    """Customers whose email, MyKad, passport, company number or representative's MyKad is `q`."""
    text = (q or "").strip()
    if not text:
        return []
    compact = text.replace("-", "").replace(" ", "").upper()
    stmt = (select(User).where(User.role == Role.CUSTOMER)
            .where(or_(func.lower(User.email) == text.lower(), User.mykad == compact,
                       User.passport_no == compact, User.company_reg_no == compact,
                       User.company_reg_no == text.upper(), User.rep_mykad == compact))
            .order_by(User.id).limit(limit))
    return list(db.session.scalars(stmt))


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
    if customer.kind == Kind.COMPANY:
        raise ValidationError(_l("A company account is upgraded with the person present: use the company form."),
                              field="document_type")
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


PRESENT_KINDS = {"representative": _l("The representative"), "owner": _l("The company's owner")}
PERSON_DOCUMENTS = {"mykad": _l("MyKad"), "passport": _l("Passport")}
IDENTITY_CHECKS = {
    "chip": _l("MyKad chip read and thumbprint matched"),
    "photo": _l("Photo and details compared with the person"),
}


def verify_and_upgrade_company(actor: User, company: User, *, present: str, person_name: str, document_type: str,
                               document_number: str, certificate_seen: bool, certificate_no: str = "",
                               identity_check: str, ip: str | None = None) -> None:
    """A company account becomes Primary with its representative or owner present (module docstring)."""
    counter = counter_of(actor)
    if company.kind != Kind.COMPANY or company.role != Role.CUSTOMER:
        raise ValidationError(_l("This is not a company account."))
    if present not in PRESENT_KINDS:
        raise ValidationError(_l("Choose who came to the counter."), field="present")
    name = " ".join((person_name or "").split())
    if not name or len(name) > 200:
        raise ValidationError(_l("Enter the name of the person at the counter, as on their document."),
                              field="person_name")
    if document_type not in PERSON_DOCUMENTS:
        raise ValidationError(_l("Choose the document you checked."), field="document_type")
    if identity_check not in IDENTITY_CHECKS:
        raise ValidationError(_l("Choose the identity check you did."), field="identity_check")
    number = _document_number(document_type, document_number)
    rep = companies.current_representative(company)
    if present == "representative":
        if document_type != "mykad" or number != rep.mykad:
            raise ValidationError(_l("This is not the representative's MyKad. Only the representative whose MyKad "
                                     "is on the account, or the company's owner with the company certificate, may "
                                     "upgrade it."), field="document_number")
    elif not certificate_seen:
        raise ValidationError(_l("The company's owner must show the company registration certificate."),
                              field="certificate_seen")
    cert = (certificate_no or "").strip()
    if certificate_seen and cert:
        if identity.normalise_company_reg_no(cert, field="certificate_no") != company.company_reg_no:
            raise ValidationError(_l("The certificate is for another company: its registration number is not "
                                     "this account's."), field="certificate_no")
    elif cert:
        raise ValidationError(_l("Tick that you saw the certificate, or leave its number empty."),
                              field="certificate_seen")
    ref = f"{present}:{document_type}:{number}" + (":company_cert" if certificate_seen else "")
    accounts.upgrade_to_primary(actor, company, counter=counter, document_ref=ref, ip=ip)
    record("company.primary_check", actor=actor, target=company, ip=ip, counter=counter.code, present=present,
           person_name=name, document=f"{document_type}:{number}", certificate_seen=bool(certificate_seen),
           identity_check=identity_check)
