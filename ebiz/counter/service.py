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
- A runner session opens only from a runner OTP redeemed at this counter by this staff member
  (`companies.redeem_otp`: all three details, single use, lockout); it serves only that
  staff member, at that counter, for SESSION_MINUTES, and only what the OTP's mandate allows.
- A collection hands over a *ready* printed line of the customer's order at the counter the
  customer chose, and records who collected it (`Collection`, one per line).
- A counter sale is the online checkout and payment (one code path: `orders.checkout` with the
  items sold, `orders.pay_at_counter`), recorded as a `CounterSale`; a runner's sale counts
  against the OTP's cap (`companies.spend`) in the same transaction.
- The day-end report's totals by method agree with the ledger for that day (a test proves it).
"""

import re
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts import identity
from ..accounts import service as accounts
from ..accounts.models import Kind, Role, User
from ..accounts.search import LIMIT, find_users
from ..audit.service import record
from ..clock import from_local, utcnow
from ..companies import service as companies
from ..counters.models import Counter
from ..counters.service import open_counters as open_counters  # the desk's views read it here
from ..errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ..extensions import db
from ..licensing import service as licensing
from ..orders import service as orders
from ..refs import new_reference
from ..wallet import service as wallet
from .models import Collection, CounterSale, RunnerSession

SESSION_MINUTES = 30

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


# ------------------------------------------------------------------ runner sessions

def open_runner_session(actor: User, *, company_reg_no: str, code: str, runner_id_no: str,
                        ip: str | None = None) -> RunnerSession:
    """A runner handed over their company's OTP: redeem it (companies) and open a session acting for
    the company, limited to the OTP's mandate, for SESSION_MINUTES. A refused try raises
    `companies.OtpRefused`, whose audit event and wrong-try count the caller commits."""
    counter = counter_of(actor)
    otp = companies.redeem_otp(staff=actor, counter_id=counter.id, company_reg_no=company_reg_no, code=code,
                               runner_id_no=runner_id_no, ip=ip)
    now = utcnow()
    rs = RunnerSession(reference=new_reference("RUN"), otp_id=otp.id, company_id=otp.company_id,
                       counter_id=counter.id, staff_id=actor.id, opened_at=now,
                       expires_at=now + timedelta(minutes=SESSION_MINUTES))
    db.session.add(rs)
    db.session.flush()
    record("runner_session.opened", actor=actor, target=rs, ip=ip, reference=rs.reference, otp=otp.reference,
           company_id=otp.company_id, counter=counter.code)
    return rs


def runner_session(actor: User, reference: str) -> RunnerSession:
    """The open runner session `reference` of this staff member at their counter (else Forbidden)."""
    counter = counter_of(actor)
    rs = db.session.scalar(select(RunnerSession).where(RunnerSession.reference == (reference or "").strip().upper(),
                                                       RunnerSession.staff_id == actor.id,
                                                       RunnerSession.counter_id == counter.id))
    if rs is None:
        raise NotFound()
    if not rs.is_open():
        raise Forbidden(_l("This runner session has ended. The runner needs a new OTP from the company."))
    return rs


def active_runner_session(actor: User, reference: str | None) -> RunnerSession | None:
    """For the banner: the staff member's session `reference` while it is open, else None."""
    if not reference or getattr(actor, "role", None) != Role.COUNTER:
        return None
    rs = db.session.scalar(select(RunnerSession).where(RunnerSession.reference == reference,
                                                       RunnerSession.staff_id == actor.id))
    return rs if rs is not None and rs.is_open() else None


def close_runner_session(actor: User, reference: str, *, ip: str | None = None) -> RunnerSession:
    rs = runner_session(actor, reference)
    rs.closed_at = utcnow()
    record("runner_session.closed", actor=actor, target=rs, ip=ip, reference=rs.reference)
    return rs


def session_activity(otp_ids: list[int]) -> dict[int, dict]:
    """For the company's OTP history: per OTP id, its session, collections and sales."""
    if not otp_ids:
        return {}
    sessions = {rs.id: rs for rs in db.session.scalars(select(RunnerSession).where(RunnerSession.otp_id.in_(otp_ids)))}
    out = {rs.otp_id: {"session": rs, "collections": [], "sales": []} for rs in sessions.values()}
    if sessions:
        for c in db.session.scalars(select(Collection).where(Collection.runner_session_id.in_(sessions))
                                    .order_by(Collection.id)):
            out[sessions[c.runner_session_id].otp_id]["collections"].append(c)
        for sale in db.session.scalars(select(CounterSale).where(CounterSale.runner_session_id.in_(sessions))
                                       .order_by(CounterSale.id)):
            out[sessions[sale.runner_session_id].otp_id]["sales"].append(sale)
    return out


# ------------------------------------------------------------------ collection

COLLECTORS = {"customer": _l("The customer"), "representative": _l("The company's representative"),
              "runner": _l("A runner with the company's OTP")}


def collect(actor: User, customer: User, line_id: int, *, collected_by: str, collector_id_no: str = "",
            session: RunnerSession | None = None, ip: str | None = None) -> Collection:
    """Hand over a ready printed order line at this counter, recording who collected it:
    the customer (their MyKad or passport), a company's representative (their MyKad), or a
    runner in an open session whose mandate allows collection."""
    counter = counter_of(actor)
    if collected_by == "runner":
        if session is None or not session.is_open() or session.staff_id != actor.id or session.counter_id != counter.id:
            raise Forbidden(_l("Open a runner session with the company's OTP first."))
        if session.company_id != customer.id:
            raise NotFound()
        if not session.otp.may_collect:
            raise Forbidden(_l("This runner's mandate does not include collecting orders."))
        name, id_no = session.otp.runner_name, session.otp.runner_id_no
    elif collected_by == "representative":
        if not companies.is_company(customer):
            raise ValidationError(_l("Only a company has a representative."), field="collected_by")
        rep = companies.current_representative(customer)
        if _id_or_none(identity.normalise_mykad, collector_id_no) != rep.mykad:
            raise ValidationError(_l("This is not the representative's MyKad."), field="collector_id_no")
        name, id_no = rep.full_name, rep.mykad
    elif collected_by == "customer":
        if companies.is_company(customer):
            raise ValidationError(_l("A company's order is collected by its representative or a runner."),
                                  field="collected_by")
        number = _id_or_none(identity.normalise_mykad, collector_id_no) if customer.mykad else \
            _id_or_none(identity.normalise_passport, collector_id_no)
        if number is None or number not in {customer.mykad, customer.passport_no}:
            raise ValidationError(_l("This document does not match the identity number of the account."),
                                  field="collector_id_no")
        name, id_no = customer.full_name, number
    else:
        raise ValidationError(_l("Choose who is collecting."), field="collected_by")
    line = orders.hand_over(line_id, user_id=customer.id, counter_id=counter.id, actor=actor, ip=ip)
    c = Collection(order_line_id=line.id, order_reference=line.order.reference, counter_id=counter.id,
                   staff_id=actor.id, collected_by=collected_by, collector_name=name, collector_id_no=id_no,
                   runner_session_id=session.id if collected_by == "runner" else None, collected_at=utcnow())
    db.session.add(c)
    db.session.flush()
    record("counter.collected", actor=actor, target=c, ip=ip, reference=c.order_reference, line_id=line.id,
           collected_by=collected_by, counter=counter.code,
           runner_session=session.reference if collected_by == "runner" else None)
    return c


def _id_or_none(normalise, value: str) -> str | None:
    try:
        return normalise(value)
    except ValidationError:
        return None


def ready_lines(customer: User, actor: User):
    return orders.ready_for_collection(customer.id, counter_of(actor).id)


# ------------------------------------------------------------------ counter sales

SALE_METHODS = {"cash": _l("Cash"), "terminal": _l("Card terminal"), "wallet": _l("eBiz wallet")}
_APPROVAL = re.compile(r"^[A-Z0-9]{4,12}$")


def sell(actor: User, customer: User, *, items: list[tuple[int, int | None, int]], method: str, sale_key: str,
         approval_code: str = "", session: RunnerSession | None = None, terms_accepted: bool = False,
         ip: str | None = None) -> tuple[CounterSale, bool]:
    """Sell printed products and training seats at this counter to a customer who is present, or to a
    company through a runner session (within the mandate and its cap). One code path with the online
    checkout: `orders.checkout` (prices, stock, seats, invoice, mail) and `orders.pay_at_counter` (the
    payment intent, ledger posting, receipt and mail). Printed products are handed over at once.
    `terms_accepted`: the buyer was shown the product's terms (a training's) at the counter and
    accepted them; recorded as the online acceptance is. Returns (sale, created); the same
    `sale_key` again is the first sale."""
    counter = counter_of(actor)
    key = (sale_key or "").strip()
    if not key or len(key) > 64:
        raise ValidationError(_l("The form expired. Please try again."))
    existing = db.session.scalar(select(CounterSale).where(CounterSale.sale_key == key))
    if existing is not None:
        if existing.customer_id != customer.id or existing.counter_id != counter.id:
            raise Conflict(_l("This sale was already recorded for another customer."))
        return existing, False
    if customer.role != Role.CUSTOMER:
        raise NotFound()
    if method not in SALE_METHODS:
        raise ValidationError(_l("Choose how the customer pays."), field="method")
    approval = None
    if method == "terminal":
        approval = "".join((approval_code or "").split()).upper()
        if not _APPROVAL.fullmatch(approval):
            raise ValidationError(_l("Enter the approval code printed by the card terminal (4 to 12 letters and "
                                     "digits)."), field="approval_code")
    if session is not None:
        if not session.is_open() or session.staff_id != actor.id or session.counter_id != counter.id:
            raise Forbidden(_l("This runner session has ended. The runner needs a new OTP from the company."))
        if session.company_id != customer.id:
            raise NotFound()
        if not session.otp.may_buy:
            raise Forbidden(_l("This runner's mandate does not include buying."))
        if method == "wallet" and not session.otp.may_use_wallet:
            raise Forbidden(_l("This runner's mandate does not include paying from the company's wallet."))
    # Without a runner session, a company buys through its representative at the counter.
    if method == "wallet" and not customer.is_primary:
        raise TierRequired(_l("Only Primary customers hold a wallet."), field="method")
    cart = orders.counter_items(customer, items)
    accepted = {item.product_id: licensing.get_licence(item.product.licence_key).sha256
                for item in cart if item.product.licence_key} if terms_accepted else {}
    order = orders.checkout(customer, checkout_key=f"counter:{key}", accepted=accepted, ip=ip,
                            user_agent="counter", collect_counter_id=counter.id, items=cart)
    if order.total_sen <= 0:
        raise ValidationError(_l("There is nothing to pay: free places are booked online."), field="product")
    if session is not None:
        companies.spend(session.otp_id, order.total_sen)
    intent = orders.pay_at_counter(customer, order, method=method, idempotency_key=f"counter-sale:{key}",
                                   counter_code=counter.code, counter_name=counter.name, approval_code=approval)
    sale = CounterSale(sale_key=key, counter_id=counter.id, staff_id=actor.id, customer_id=customer.id,
                       order_reference=order.reference, payment_ref=intent.reference, receipt_no=intent.receipt_no,
                       method=method, approval_code=approval, amount_sen=order.total_sen,
                       runner_session_id=session.id if session is not None else None, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(sale)
    except IntegrityError:  # a double-submitted twin recorded it first: nothing of this one stays
        raise Conflict(_l("This sale was already recorded.")) from None
    _hand_over_sold(actor, counter, customer, order, session, ip)
    record("counter.sale", actor=actor, target=sale, ip=ip, reference=order.reference, payment=intent.reference,
           method=method, amount_sen=order.total_sen, counter=counter.code,
           runner_session=session.reference if session is not None else None)
    return sale, True


def _hand_over_sold(actor, counter, customer, order, session, ip) -> None:
    """Printed products bought at the counter leave with the buyer: recorded as collected."""
    if session is not None:
        who, name, id_no = "runner", session.otp.runner_name, session.otp.runner_id_no
    elif companies.is_company(customer):
        rep = companies.current_representative(customer)
        who, name, id_no = "representative", rep.full_name, rep.mykad
    else:
        who, name, id_no = "customer", customer.full_name, customer.mykad or customer.passport_no or ""
    for line in order.lines:
        if line.product_type != "printed":
            continue
        orders.mark_line(line.id, "collected", actor=actor, ip=ip)
        db.session.add(Collection(order_line_id=line.id, order_reference=order.reference, counter_id=counter.id,
                                  staff_id=actor.id, collected_by=who, collector_name=name, collector_id_no=id_no,
                                  runner_session_id=session.id if session is not None else None,
                                  collected_at=utcnow()))
    db.session.flush()


# ------------------------------------------------------------------ day-end report

def day_bounds(day: date) -> tuple:
    """[start, end) in UTC of a counter day (a calendar day in Malaysia time)."""
    start = from_local(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def day_end(actor: User, day: date) -> dict:
    """The counter's takings for `day` (Malaysia time): each sale, totals by method, and the same totals
    read from the ledger (the counter's cash and card clearing accounts; wallet spends collected for
    these sales), with whether they agree; and the refunds (credit notes) issued that day for this
    counter's sales."""
    counter = counter_of(actor)
    start, end = day_bounds(day)
    sales = list(db.session.scalars(select(CounterSale).where(CounterSale.counter_id == counter.id,
                                                              CounterSale.created_at >= start,
                                                              CounterSale.created_at < end)
                                    .order_by(CounterSale.created_at, CounterSale.id)))
    totals = {m: sum(s.amount_sen for s in sales if s.method == m) for m in SALE_METHODS}
    ledger = {
        "cash": -wallet.account_total(wallet.counter_account_code(counter.code, "cash"), start, end),
        "terminal": -wallet.account_total(wallet.counter_account_code(counter.code, "terminal"), start, end),
        "wallet": wallet.collected_total([s.payment_ref for s in sales if s.method == "wallet"]),
    }
    # Refunds of this counter's sales do not leave its till: a wallet sale is refunded to the wallet,
    # a cash or card sale through the staff refund queue. They are listed, apart from the takings.
    refunds = orders.credit_notes_for(select(CounterSale.order_reference).where(CounterSale.counter_id == counter.id)
                                      .scalar_subquery(), start, end)
    return {"counter": counter, "day": day, "sales": sales, "totals": totals, "total": sum(totals.values()),
            "ledger": ledger, "ledger_total": sum(ledger.values()), "agrees": totals == ledger,
            "refunds": refunds, "refund_total": sum(cn.amount_sen for cn in refunds)}


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
