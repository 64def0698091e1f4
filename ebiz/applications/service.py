"""Application rules: apply, review on a working-day clock, decide, and use an approval.

Invariants:
- Every change of state goes through `transition`, which reads `models.TRANSITIONS`, writes
  the application's history event and an audit event, and queues the applicant's email (in
  the applicant's own language) in the same transaction.
- Staff actions lock the application row first (`SELECT ... FOR UPDATE` on PostgreSQL, an
  immediate write transaction on SQLite) and re-read its state: a stale or repeated action
  (a second decision, a decision on a withdrawn application) is a Conflict, never applied.
- Who sees what: the applicant and review staff (administrators and holders of the
  reviewer permission) see an application and its documents; anyone else gets NotFound.
- Two-step review (APPLICATIONS_TWO_STEP): a recommendation must exist, and the person who
  decides is not the person who recommended; only administrators decide.
- A document is stored only when its first bytes say it is what its name says (PDF, JPEG,
  PNG) and it is within the size limit; a refused upload leaves nothing stored.
- An approval grants the applicant `RestrictedAccess` to each approved restricted product
  until `valid_until` (the catalogue's gate: who may buy, and pay for an order already
  placed). Carts and checkouts also ask `check_copies`/`use_copy`: each checkout takes the
  copies it buys (state `used` when none remain), and an unpaid order that is cancelled or
  expires gives them back (`return_copy`). A remit is computed once, at checkout, from the
  approval (`remit_for`), and travels with the order line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from ..accounts.models import Role, User
from ..audit.service import record
from ..catalog import service as catalog
from ..catalog.models import Product, ProductStatus, ProductType, ProductVersion
from ..clock import to_local, utcnow
from ..db import begin_write, lock_one
from ..delivery.storage import get_storage
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..notifications.service import queue_mail
from ..sequences import next_number
from . import workdays
from .models import (
    CLOSED,
    TRANSITIONS,
    UNDER_REVIEW,
    Application,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationItem,
    RemitKind,
    Reviewer,
    State,
)

MAX_PRODUCTS = 20
MAX_TEXT = 4000

# Who may apply for a remit (fee remission). Decided here and stated on the application page:
# government agencies (federal or state) for official work, and public universities for
# research, each with proof (an official letter). Companies and individuals are not eligible.
CATEGORIES = {
    "federal_agency": _l("Federal government agency"),
    "state_agency": _l("State government agency or local authority"),
    "public_university": _l("Public university (research)"),
    "company": _l("Company or private organisation"),
    "individual": _l("Individual"),
}
REMIT_ELIGIBLE = frozenset({"federal_agency", "state_agency", "public_university"})

STATE_LABELS = {
    State.DRAFT: _l("Draft"),
    State.SUBMITTED: _l("Submitted"),
    State.INFO_REQUESTED: _l("More information requested"),
    State.RESUBMITTED: _l("Resubmitted"),
    State.APPROVED: _l("Approved"),
    State.REJECTED: _l("Rejected"),
    State.WITHDRAWN: _l("Withdrawn"),
    State.EXPIRED: _l("Expired"),
    State.USED: _l("Used"),
}

# What each step of the history says (the applicant and staff see the same words).
EVENT_LABELS = {
    "create": _l("Draft created"),
    "submit": _l("Submitted"),
    "request_info": _l("More information requested"),
    "resubmit": _l("Answered and resubmitted"),
    "recommend": _l("Recommendation recorded"),
    "approve": _l("Approved"),
    "reject": _l("Rejected"),
    "withdraw": _l("Withdrawn"),
    "expire": _l("Expired"),
    "use": _l("Copies bought"),
    "use_up": _l("All approved copies bought"),
    "return": _l("Copies given back by an unpaid order"),
    "reopen": _l("Approved copies available again"),
    "purge": _l("Documents removed after the retention period"),
}

# Documents: checked by their content (magic bytes), with the names each type may carry.
DOCUMENT_TYPES = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
}


def _today() -> date:
    return to_local(utcnow()).date()


def _cfg(name: str):
    return current_app.config[name]


# ---------------------------------------------------------------- who may see and act

def is_reviewer(user) -> bool:
    """Administrators and staff holding the reviewer permission."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if user.role == Role.ADMIN:
        return True
    return db.session.get(Reviewer, user.id) is not None


def may_decide(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.role == Role.ADMIN


def for_viewer(token: str, user) -> Application:
    """The application with this token, if `user` is its applicant or review staff; else NotFound."""
    app_ = db.session.scalar(select(Application).where(Application.token == str(token)[:32]))
    if app_ is None or user is None or not getattr(user, "is_authenticated", False):
        raise NotFound()
    if app_.user_id != user.id and not is_reviewer(user):
        raise NotFound()
    return app_


def _own(token: str, user) -> Application:
    app_ = _lock(token)
    if app_.user_id != user.id:
        raise NotFound()
    return app_


def _lock(token: str) -> Application:
    app_ = lock_one(select(Application).where(Application.token == str(token)[:32]))
    if app_ is None:
        raise NotFound()
    return app_


def document_for_viewer(app_token: str, doc_token: str, user) -> ApplicationDocument:
    app_ = for_viewer(app_token, user)
    doc = next((d for d in app_.documents if d.token == doc_token), None)
    if doc is None or doc.storage_key is None:
        raise NotFound()
    return doc


# ---------------------------------------------------------------- the state machine

def transition(app_: Application, action: str, *, actor, note: str | None = None, ip: str | None = None) -> str:
    """Move `app_` by `action` as the table allows, or raise Conflict; history, audit and email."""
    before = app_.state
    to = TRANSITIONS.get((before, action))
    if to is None:
        raise Conflict(_l("This application is %(state)s: that cannot be done now.",
                          state=STATE_LABELS.get(before, before)))
    app_.state = to
    actor_id = getattr(actor, "id", actor)
    db.session.add(ApplicationEvent(application_id=app_.id, actor_id=actor_id, action=action,
                                    from_state=before, to_state=to, note=note))
    record(f"applications.{action}", actor=actor_id, target=app_, ip=ip, reference=app_.reference,
           from_state=before, to_state=to)
    _mail_applicant(app_, note)
    return to


def _mail_applicant(app_: Application, note: str | None) -> None:
    user = app_.user or db.session.get(User, app_.user_id)
    if user is None or not user.email:
        return
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        state = str(STATE_LABELS[app_.state])
        queue_mail(user.email, _l("Application %(ref)s: %(state)s", ref=app_.label, state=state),
                   "applications_state", app_=app_, state=state, note=note,
                   url=f"{base}/applications/{app_.token}")


# ---------------------------------------------------------------- the SLA clock

def _start_clock(app_: Application, today: date) -> None:
    app_.clock_resumed_on = today
    left = max(int(_cfg("APPLICATIONS_SLA_WORKING_DAYS")) - app_.clock_days_used, 0)
    app_.due_on = workdays.add_working_days(today, left)


def _pause_clock(app_: Application, today: date) -> None:
    if app_.clock_resumed_on is not None:
        app_.clock_days_used += workdays.working_days_between(app_.clock_resumed_on, today)
    app_.clock_resumed_on = None
    app_.due_on = None


def _stop_clock(app_: Application, today: date) -> None:
    _pause_clock(app_, today)


def days_used(app_: Application, today: date | None = None) -> int:
    """Working days the review has taken so far (not counting time waiting for the applicant)."""
    today = today or _today()
    used = app_.clock_days_used
    if app_.clock_resumed_on is not None:
        used += workdays.working_days_between(app_.clock_resumed_on, today)
    return used


def days_left(app_: Application, today: date | None = None) -> int | None:
    """Working days until due (negative: overdue); None while the clock is paused or stopped."""
    if app_.due_on is None:
        return None
    today = today or _today()
    if today <= app_.due_on:
        return workdays.working_days_between(today, app_.due_on)
    return -workdays.working_days_between(app_.due_on, today)


def awaited(app_: Application, *, for_staff: bool = False) -> str:
    """What the application waits for, and from whom (the applicant's list and page; staff pages)."""
    if for_staff and app_.state in (State.DRAFT, State.INFO_REQUESTED, State.APPROVED):
        return str(_l("The applicant"))
    if app_.state == State.DRAFT:
        return str(_l("You: complete and submit it"))
    if app_.state == State.INFO_REQUESTED:
        return str(_l("You: answer the request for more information"))
    if app_.state in UNDER_REVIEW:
        if _cfg("APPLICATIONS_TWO_STEP") and app_.recommended_by is None:
            return str(_l("The department: review"))
        return str(_l("The department: decision"))
    if app_.state == State.APPROVED:
        return str(_l("You: buy the approved items"))
    return "—"


# ---------------------------------------------------------------- the applicant

def _clean(value, limit: int = MAX_TEXT) -> str:
    return (value or "").strip()[:limit]


def _products(product_ids, versions: dict | None = None) -> list[tuple[Product, int | None]]:
    ids = []
    for pid in product_ids or ():
        try:
            pid = int(pid)
        except (TypeError, ValueError):
            raise ValidationError(_l("Choose products from the list."), field="products") from None
        if pid not in ids:
            ids.append(pid)
    if len(ids) > MAX_PRODUCTS:
        raise ValidationError(_l("At most %(n)d products in one application.", n=MAX_PRODUCTS), field="products")
    out = []
    for pid in ids:
        p = db.session.get(Product, pid)
        if p is None or p.status != ProductStatus.PUBLISHED:
            raise ValidationError(_l("Choose products from the list."), field="products")
        vid = (versions or {}).get(pid)
        if vid:
            v = db.session.get(ProductVersion, int(vid))
            if v is None or v.product_id != pid or not v.published:
                raise ValidationError(_l("Choose a version of the product."), field="products")
        out.append((p, int(vid) if vid else None))
    return out


def applicable_products(limit: int = 500) -> list[Product]:
    """What an application may name: restricted products first (data), then the other published
    digital products and services (a remit alone may name those)."""
    return list(db.session.scalars(
        select(Product).where(Product.status == ProductStatus.PUBLISHED, Product.type != ProductType.PRINTED)
        .order_by(Product.restricted.desc(), Product.name).limit(limit)))


def restricted_products() -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.status == ProductStatus.PUBLISHED,
                                                         Product.restricted.is_(True)).order_by(Product.name)))


def save_draft(user, *, token: str | None = None, product_ids=(), versions: dict | None = None,
               wants_data: bool = True, wants_remit: bool = False, purpose: str = "", agency: str = "",
               applicant_category: str | None = None, intended_use: str = "", area_state: str = "",
               area_district: str = "", bbox: str | None = None, period_from=None, period_to=None,
               declaration: bool = False, ip: str | None = None) -> Application:
    """Create (token None) or update the applicant's draft; nothing is checked for completeness yet."""
    if not wants_data and not wants_remit:
        raise ValidationError(_l("Apply for restricted data, for a remit, or both."), field="wants_data")
    if applicant_category and applicant_category not in CATEGORIES:
        raise ValidationError(_l("Choose who is applying from the list."), field="applicant_category")
    if period_from and period_to and period_to < period_from:
        raise ValidationError(_l("The period of use ends before it starts."), field="period_to")
    chosen = _products(product_ids, versions)
    if token is None:
        app_ = Application(token=secrets.token_hex(16), user_id=user.id, state=State.DRAFT)
        db.session.add(app_)
        db.session.flush()
        db.session.add(ApplicationEvent(application_id=app_.id, actor_id=user.id, action="create",
                                        to_state=State.DRAFT))
        record("applications.create", actor=user, target=app_, ip=ip)
    else:
        app_ = _own(token, user)
        if app_.state != State.DRAFT:
            raise Conflict(_l("Only a draft can be changed."))
    app_.wants_data, app_.wants_remit = bool(wants_data), bool(wants_remit)
    app_.purpose, app_.agency = _clean(purpose), _clean(agency, 200)
    app_.applicant_category = applicant_category or None
    app_.intended_use = _clean(intended_use)
    app_.area_state, app_.area_district = _clean(area_state, 60), _clean(area_district, 80)
    app_.bbox = _clean(bbox, 120) or None
    app_.period_from, app_.period_to = period_from, period_to
    app_.declaration_accepted_at = (app_.declaration_accepted_at or utcnow()) if declaration else None
    wanted = {p.id: vid for p, vid in chosen}
    for item in list(app_.items):
        if item.product_id not in wanted:
            app_.items.remove(item)
    have = {i.product_id: i for i in app_.items}
    for pid, vid in wanted.items():
        if pid in have:
            have[pid].version_id = vid
        else:
            app_.items.append(ApplicationItem(product_id=pid, version_id=vid, copies=1))
    db.session.flush()
    return app_


def _check_complete(app_: Application) -> None:
    errors = {}
    if app_.wants_data and not app_.items:
        errors["products"] = _l("Choose at least one product.")
    if app_.wants_data and any(not i.product.restricted for i in app_.items) and not app_.wants_remit:
        errors["products"] = _l("Only restricted products need an application; buy the others directly.")
    if app_.wants_remit and not app_.items:
        errors["products"] = _l("Choose the products the remit is for.")
    if not app_.purpose:
        errors["purpose"] = _l("Say what the data is for.")
    if not app_.agency:
        errors["agency"] = _l("Name the project or agency.")
    if not app_.intended_use:
        errors["intended_use"] = _l("Describe how the data will be used.")
    if not app_.area_state:
        errors["area_state"] = _l("Give the state of the area of interest.")
    if not app_.period_from or not app_.period_to:
        errors["period_from"] = _l("Give the period of use.")
    if not app_.applicant_category:
        errors["applicant_category"] = _l("Choose who is applying.")
    if app_.wants_remit and app_.applicant_category not in REMIT_ELIGIBLE:
        errors["wants_remit"] = _l("A remit is only for government agencies and public universities "
                                   "(for research); companies and individuals are not eligible.")
    if app_.wants_remit and not any(d.storage_key for d in app_.documents):
        errors["document"] = _l("Attach proof of eligibility for the remit (an official letter).")
    if app_.declaration_accepted_at is None:
        errors["declaration"] = _l("You must accept the declaration.")
    if errors:
        first = next(iter(errors))
        raise ValidationError(errors[first], field=first, errors=errors)


def submit(token: str, user, *, ip: str | None = None) -> Application:
    app_ = _own(token, user)
    if app_.state != State.DRAFT:
        raise Conflict(_l("This application has already been submitted."))
    _check_complete(app_)
    app_.submitted_at = utcnow()
    _start_clock(app_, _today())
    app_.reference = next_number("APL")
    transition(app_, "submit", actor=user, ip=ip)
    return app_


def withdraw(token: str, user, *, ip: str | None = None) -> Application:
    app_ = _own(token, user)
    transition(app_, "withdraw", actor=user, ip=ip)
    _stop_clock(app_, _today())
    return app_


def resubmit(token: str, user, *, answer: str, ip: str | None = None) -> Application:
    app_ = _own(token, user)
    answer = _clean(answer)
    if not answer:
        raise ValidationError(_l("Answer the request."), field="answer")
    transition(app_, "resubmit", actor=user, note=answer, ip=ip)
    app_.info_request = None
    _start_clock(app_, _today())
    return app_


def _sniff(head: bytes, filename: str) -> str | None:
    name = filename.lower()
    for content_type, (magic, exts) in DOCUMENT_TYPES.items():
        if head.startswith(magic) and name.endswith(exts):
            return content_type
    return None


class _Prefixed:
    """A stream that gives back the bytes already read from it first."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = (self.head, b"") if n < 0 or n >= len(self.head) else (self.head[:n], self.head[n:])
            return out
        return self.rest.read(n)


def _storage():
    # Delivery's backend (STORAGE_BACKEND): documents are kept privately beside the product files.
    return get_storage()


def add_document(token: str, user, fileobj, filename: str, *, ip: str | None = None) -> ApplicationDocument:
    """Store a supporting document (a draft, or an answer to a request); refuses anything else."""
    app_ = _own(token, user)
    if app_.state not in (State.DRAFT, State.INFO_REQUESTED):
        raise Conflict(_l("Documents can be added to a draft, or when more information is requested."))
    if len(app_.documents) >= int(_cfg("APPLICATIONS_MAX_DOCUMENTS")):
        raise ValidationError(_l("This application already has the most documents it may have."), field="document")
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    head = fileobj.read(8) if fileobj is not None else b""
    content_type = _sniff(head, name) if name else None
    if content_type is None:
        raise ValidationError(_l("Upload a PDF, JPEG or PNG file; this file is not what its name says, or "
                                 "is of another kind."), field="document")
    stored = _storage().put(_Prefixed(head, fileobj), max_bytes=int(_cfg("APPLICATIONS_DOCUMENT_MAX_BYTES")),
                            content_type=content_type)
    doc = ApplicationDocument(token=secrets.token_hex(16), application_id=app_.id, filename=name,
                              content_type=content_type, size=stored.size, sha256=stored.sha256,
                              storage_key=stored.key, uploaded_by=user.id)
    db.session.add(doc)
    db.session.flush()
    record("applications.document.add", actor=user, target=app_, ip=ip, document=doc.token, size=doc.size)
    return doc


def serve_document(doc: ApplicationDocument):
    return _storage().serve(doc.storage_key, filename=doc.filename, content_type=doc.content_type)


def applications_of(user) -> list[Application]:
    return list(db.session.scalars(select(Application).where(Application.user_id == user.id)
                                   .order_by(Application.id.desc())))


# ---------------------------------------------------------------- review

def queue(*, state: str | None = None, product_id: int | None = None, older_than_days: int | None = None,
          limit: int = 200) -> list[Application]:
    """Applications for review, the soonest due first (paused ones after them)."""
    q = select(Application).where(Application.state != State.DRAFT)
    if state:
        q = q.where(Application.state == state)
    else:
        q = q.where(Application.state.in_([*UNDER_REVIEW, State.INFO_REQUESTED]))
    if product_id:
        q = q.where(Application.items.any(ApplicationItem.product_id == product_id))
    if older_than_days:
        q = q.where(Application.submitted_at <= utcnow() - timedelta(days=older_than_days))
    q = q.order_by(Application.due_on.is_(None), Application.due_on, Application.id).limit(limit)
    return list(db.session.scalars(q))


def _staff_lock(token: str, user) -> Application:
    if not is_reviewer(user):
        raise Forbidden()
    return _lock(token)


def request_info(token: str, staff, *, question: str, ip: str | None = None) -> Application:
    app_ = _staff_lock(token, staff)
    question = _clean(question)
    if not question:
        raise ValidationError(_l("Say what information is needed."), field="question")
    transition(app_, "request_info", actor=staff, note=question, ip=ip)
    app_.info_request = question
    _pause_clock(app_, _today())
    return app_


def recommend(token: str, staff, *, recommendation: str, notes: str, ip: str | None = None) -> Application:
    app_ = _staff_lock(token, staff)
    if app_.state not in UNDER_REVIEW:
        raise Conflict(_l("This application is %(state)s: that cannot be done now.",
                          state=STATE_LABELS.get(app_.state, app_.state)))
    if recommendation not in ("approve", "reject"):
        raise ValidationError(_l("Recommend approval or rejection."), field="recommendation")
    notes = _clean(notes)
    if not notes:
        raise ValidationError(_l("Give your notes for the approver."), field="notes")
    app_.recommended_by, app_.recommended_at = staff.id, utcnow()
    app_.recommendation, app_.recommendation_notes = recommendation, notes
    db.session.add(ApplicationEvent(application_id=app_.id, actor_id=staff.id, action="recommend",
                                    from_state=app_.state, to_state=app_.state, note=notes))
    record("applications.recommend", actor=staff, target=app_, ip=ip, recommendation=recommendation)
    return app_


def _check_decider(app_: Application, staff) -> None:
    if not may_decide(staff):
        raise Forbidden(_l("Only an administrator decides an application."))
    if _cfg("APPLICATIONS_TWO_STEP"):
        if app_.recommended_by is None:
            raise Conflict(_l("A reviewer must recommend this application before it is decided."))
        if app_.recommended_by == staff.id:
            raise Forbidden(_l("You recommended this application: another officer must decide it."))


def approve(token: str, staff, *, copies: dict[int, int], valid_until: datetime, conditions: str,
            remit_kind: str | None = None, remit_value: int | None = None, ip: str | None = None) -> Application:
    """Approve with a scope: {product_id: copies} (those left out are not approved), validity,
    conditions, and a remit (percent 0-100, or fixed sen) when one was applied for."""
    app_ = _staff_lock(token, staff)
    if app_.state not in UNDER_REVIEW:
        raise Conflict(_l("This application has already been decided."))
    _check_decider(app_, staff)
    conditions = _clean(conditions)
    if not conditions:
        raise ValidationError(_l("State the conditions of use (they are printed on the licence)."),
                              field="conditions")
    if valid_until is None or valid_until <= utcnow():
        raise ValidationError(_l("The approval must be valid until a future date."), field="valid_until")
    chosen = {int(k): int(v) for k, v in (copies or {}).items() if int(v) > 0}
    if not chosen or not set(chosen) <= {i.product_id for i in app_.items}:
        raise ValidationError(_l("Approve at least one of the products applied for."), field="copies")
    if any(v > 1000 for v in chosen.values()):
        raise ValidationError(_l("At most 1000 copies."), field="copies")
    if remit_kind:
        if not app_.wants_remit:
            raise ValidationError(_l("No remit was applied for."), field="remit_kind")
        if remit_kind not in (RemitKind.PERCENT, RemitKind.FIXED) or remit_value is None or remit_value < 0 \
                or (remit_kind == RemitKind.PERCENT and remit_value > 100) or remit_value > 100_000_000:
            raise ValidationError(_l("Give a percentage from 0 to 100, or a fixed amount."), field="remit_value")
    for item in app_.items:
        item.approved = item.product_id in chosen
        item.copies = chosen.get(item.product_id, item.copies)
    app_.valid_until, app_.conditions = valid_until, conditions
    app_.remit_kind = remit_kind or None
    app_.remit_value = remit_value if remit_kind else None
    app_.decided_by, app_.decided_at = staff.id, utcnow()
    _stop_clock(app_, _today())
    for item in app_.items:
        if item.approved and item.product.restricted:
            catalog.grant_restricted_access(app_.user_id, item.product_id, source_ref=app_.reference,
                                            granted_by=staff, expires_at=valid_until, ip=ip)
    transition(app_, "approve", actor=staff, note=conditions, ip=ip)
    return app_


def reject(token: str, staff, *, reason: str, ip: str | None = None) -> Application:
    app_ = _staff_lock(token, staff)
    if app_.state not in UNDER_REVIEW:
        raise Conflict(_l("This application has already been decided."))
    _check_decider(app_, staff)
    reason = _clean(reason)
    if not reason:
        raise ValidationError(_l("Give the reason for the rejection; the applicant will see it."), field="reason")
    app_.decision_reason = reason
    app_.decided_by, app_.decided_at = staff.id, utcnow()
    _stop_clock(app_, _today())
    transition(app_, "reject", actor=staff, note=reason, ip=ip)
    return app_


# ---------------------------------------------------------------- using an approval

def _revoke_access(app_: Application, reason: str) -> None:
    for row in catalog.restricted_access_for_source(app_.user_id, app_.reference):
        catalog.revoke_restricted_access(row.id, actor=None, reason=reason)


def approval_for(user_id: int, product_id: int, now: datetime | None = None) -> ApplicationItem | None:
    """The approved, unexpired scope item that lets this user buy this product (the oldest first)."""
    now = now or utcnow()
    return db.session.scalar(
        select(ApplicationItem).join(Application)
        .where(Application.user_id == user_id, Application.state == State.APPROVED,
               Application.valid_until > now, ApplicationItem.product_id == product_id,
               ApplicationItem.approved.is_(True), ApplicationItem.copies_used < ApplicationItem.copies)
        .order_by(Application.id))


def _fresh_items(application_id: int) -> list[ApplicationItem]:
    """The application's items read again (call under its lock: earlier reads may be stale)."""
    return list(db.session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == application_id)
                                   .order_by(ApplicationItem.id).execution_options(populate_existing=True)))


def _fresh_item(application_id: int, product_id: int) -> ApplicationItem | None:
    return next((i for i in _fresh_items(application_id) if i.product_id == product_id), None)


def _copies_problem(user_id: int, product: Product) -> str | None:
    """Why no copy of this restricted product may be taken now: the customer's access comes only from
    applications, and none of them has a copy left. None when an approval has one, when the access
    was granted directly by an administrator, or when the product is not restricted."""
    if not product.restricted or approval_for(user_id, product.id) is not None:
        return None
    sources = catalog.restricted_access_sources(user_id, product.id)
    if sources and all(s.startswith("APL-") for s in sources):
        return str(_l("Your approved application for this product has been used up. Apply again to buy more."))
    return None


def check_copies(user_id: int, product: Product) -> None:
    """Conflict when a cart may not take this restricted product (its approval is used up)."""
    if (why := _copies_problem(user_id, product)) is not None:
        raise Conflict(why, field="product")


@dataclass(frozen=True)
class UsedCopy:
    """What a checkout line took from an approval: its reference, conditions and remit in sen."""

    reference: str
    conditions: str
    remit_sen: int


def remit_for(app_: Application, unit_price_sen: int, quantity: int) -> int:
    """The approved reduction for `quantity` copies at `unit_price_sen` (never more than their price).
    A percentage is of the list price, rounded to the nearest sen; a fixed reduction is per copy."""
    total = unit_price_sen * quantity
    if app_.remit_kind == RemitKind.PERCENT:
        return min(total, (total * int(app_.remit_value) + 50) // 100)
    if app_.remit_kind == RemitKind.FIXED:
        return min(total, int(app_.remit_value) * quantity)
    return 0


def use_copy(user_id: int, product: Product, quantity: int, *, order_ref: str) -> UsedCopy | None:
    """Take `quantity` copies of the approval in scope (at checkout); the application is `used` when
    none are left. None when no application covers the product (an administrator's direct access,
    or an ordinary product); Conflict when the approval is used up or has fewer copies left."""
    item = approval_for(user_id, product.id)
    if item is None:
        check_copies(user_id, product)
        return None
    app_ = _lock(item.application.token)
    item = _fresh_item(app_.id, product.id)  # read again under the lock: a concurrent checkout may have taken it
    if app_.state != State.APPROVED or item.copies - item.copies_used < quantity:
        raise Conflict(_l("Your approval does not cover this many copies."), field="quantity")
    item.copies_used += quantity
    db.session.add(ApplicationEvent(application_id=app_.id, actor_id=user_id, action="use",
                                    from_state=app_.state, to_state=app_.state, note=order_ref))
    if all(i.copies_used >= i.copies for i in _fresh_items(app_.id) if i.approved):
        transition(app_, "use_up", actor=user_id, note=order_ref)
    return UsedCopy(app_.reference, app_.conditions or "", remit_for(app_, product.price_sen, quantity))


def return_copy(user_id: int, product_id: int, quantity: int, *, reference: str, order_ref: str) -> None:
    """Give back copies an unpaid order took (it was cancelled or expired); a used-up approval that is
    still valid is approved again."""
    token = db.session.scalar(select(Application.token).where(Application.reference == reference,
                                                              Application.user_id == user_id))
    if token is None:
        return
    app_ = _lock(token)
    item = _fresh_item(app_.id, product_id)
    if item is None:
        return
    item.copies_used = max(item.copies_used - quantity, 0)
    db.session.add(ApplicationEvent(application_id=app_.id, actor_id=user_id, action="return",
                                    from_state=app_.state, to_state=app_.state, note=order_ref))
    if app_.state == State.USED and app_.valid_until > utcnow():
        transition(app_, "reopen", actor=None, note=order_ref)


def remit_preview(user_id: int, product: Product, quantity: int) -> tuple[str, int] | None:
    """(reference, remit in sen) the checkout would apply to this cart line, or None (read only)."""
    item = approval_for(user_id, product.id)
    if item is None or not item.application.remit_kind:
        return None
    return item.application.reference, remit_for(item.application, product.price_sen, quantity)


def approval_terms(reference: str | None) -> tuple[str, str] | None:
    """(reference, conditions) of an approved application, for the licence it leads to."""
    if not reference:
        return None
    app_ = db.session.scalar(select(Application).where(Application.reference == reference))
    return (app_.reference, app_.conditions or "") if app_ is not None and app_.decided_at else None


def checkout_items(token: str, user) -> list[tuple[Product, int]]:
    """The approved items (product, copies left) of the applicant's own approval, for its priced checkout."""
    app_ = for_viewer(token, user)
    if app_.user_id != user.id:
        raise NotFound()
    if app_.state != State.APPROVED or app_.valid_until <= utcnow():
        raise Conflict(_l("This application is %(state)s: that cannot be done now.",
                          state=STATE_LABELS.get(app_.state, app_.state)))
    return [(i.product, i.copies - i.copies_used) for i in app_.items if i.approved and i.copies > i.copies_used]


def expire_due(now: datetime | None = None) -> list[str]:
    """Approvals (used up or not) past their validity become `expired`, and their access ends; idempotent."""
    now = now or utcnow()
    done = []
    tokens = list(db.session.scalars(select(Application.token).where(
        Application.state.in_([State.APPROVED, State.USED]), Application.valid_until <= now)
        .order_by(Application.id)))
    for token in tokens:
        app_ = _lock(token)
        if app_.state in (State.APPROVED, State.USED) and app_.valid_until <= now:
            transition(app_, "expire", actor=None)
            _revoke_access(app_, "approval expired")
            done.append(app_.reference)
    return done


# ---------------------------------------------------------------- reminders and purges

def due_soon(today: date | None = None) -> list[Application]:
    """Under review and due within APPLICATIONS_REMIND_WITHIN working days, or past due."""
    today = today or _today()
    horizon = workdays.add_working_days(today, int(_cfg("APPLICATIONS_REMIND_WITHIN")))
    return list(db.session.scalars(select(Application).where(
        Application.state.in_(UNDER_REVIEW), Application.due_on.is_not(None), Application.due_on <= horizon)
        .order_by(Application.due_on, Application.id)))


def reviewers() -> list[User]:
    return list(db.session.scalars(select(User).where(
        User.active.is_(True),
        or_(User.role == Role.ADMIN, User.id.in_(select(Reviewer.user_id)))).order_by(User.id)))


def remind(today: date | None = None) -> list[str]:
    """Email every reviewer the list of applications close to or past due; returns their references.

    Once a day per application, also when two hosts run it at once: each run claims the rows it
    reminds of (`reminded_on`) with one conditional UPDATE, so a concurrent run finds them taken."""
    today = today or _today()
    apps = due_soon(today)
    if not apps:
        return []
    begin_write()
    claimed = set(db.session.scalars(
        update(Application).where(Application.id.in_([a.id for a in apps]),
                                  or_(Application.reminded_on.is_(None), Application.reminded_on < today))
        .values(reminded_on=today).returning(Application.id).execution_options(synchronize_session=False)))
    apps = [a for a in apps if a.id in claimed]
    if not apps:
        return []
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    rows = [(a, days_left(a, today)) for a in apps]
    for staff in reviewers():
        with force_locale(staff.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            queue_mail(staff.email, _l("Applications close to or past due: %(n)d", n=len(apps)),
                       "applications_remind", rows=rows, base_url=base)
    return [a.reference for a in apps]


def purge_documents(now: datetime | None = None) -> list[str]:
    """Delete the documents of applications decided (or closed) longer ago than the retention."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(_cfg("APPLICATIONS_DOCUMENT_RETENTION_DAYS")))
    tokens = list(db.session.scalars(select(Application.token).where(
        Application.state.in_([State.APPROVED, *CLOSED]), Application.documents_purged_at.is_(None),
        or_(Application.decided_at <= cutoff,
            Application.decided_at.is_(None) & (Application.created_at <= cutoff))).order_by(Application.id)))
    done = []
    storage = _storage()
    for token in tokens:
        app_ = _lock(token)
        if app_.documents_purged_at is not None:
            continue
        for doc in app_.documents:
            if doc.storage_key:
                storage.delete(doc.storage_key)
                doc.storage_key = None
        app_.documents_purged_at = now
        db.session.add(ApplicationEvent(application_id=app_.id, action="purge", from_state=app_.state,
                                        to_state=app_.state, note="documents removed after the retention period"))
        record("applications.documents.purge", target=app_, reference=app_.reference)
        done.append(app_.label)
    return done


# ---------------------------------------------------------------- the reviewer permission

def grant_reviewer(user_id: int, *, actor, ip: str | None = None) -> Reviewer:
    if not may_decide(actor):
        raise Forbidden()
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        raise ValidationError(_l("Only a staff member can be a reviewer."), field="email")
    row = db.session.get(Reviewer, user_id)
    if row is None:
        row = Reviewer(user_id=user_id, granted_by=actor.id)
        db.session.add(row)
        db.session.flush()
        record("applications.reviewer.grant", actor=actor, target=user, ip=ip)
    return row


def revoke_reviewer(user_id: int, *, actor, ip: str | None = None) -> None:
    if not may_decide(actor):
        raise Forbidden()
    row = db.session.get(Reviewer, user_id)
    if row is not None:
        db.session.delete(row)
        record("applications.reviewer.revoke", actor=actor, target_type="User", target_id=user_id, ip=ip)


def people_of(app_: Application) -> dict[int, User]:
    """The applicant and everyone who acted on the application, by id (names on its page)."""
    ids = {e.actor_id for e in app_.events if e.actor_id} | {app_.user_id}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def staff_by_email(email: str) -> User | None:
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()[:254]))
    return user if user is not None and user.is_staff else None


def reviewer_rows() -> list[tuple[Reviewer, User]]:
    return list(db.session.execute(select(Reviewer, User).join(User, User.id == Reviewer.user_id)
                                   .order_by(User.full_name)).all())
