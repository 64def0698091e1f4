"""Migrating a legacy account by an emailed link; merges; the administrators' side.

The flow (README "Legacy migration"):
1. Sign-in with an identifier that is no live account but a legacy account waiting to migrate
   (`detour_for_login`, registered with accounts) leads to the "ask" page: the old email,
   masked, and "is it still in use?" (an "ask" token, 30 minutes, names the legacy row).
2. Yes: `request_link` emails a migration link (token purpose "migration", 24 hours). No:
   `report_email_unused` records a support request for administrators; the front desk opens a
   support ticket for it (`attach_ticket`), whose reference the customer quotes.
3. The link opens a form prefilled from the old record; `activate` creates the account (or
   merges into the eBiz account that already has this identity or email), moves the balance
   to its wallet by a ledger posting and attaches the old orders.

Invariants:
- A link is good while the row waits and its `link_nonce` and email are the ones it was made
  with (a fingerprint in the token): a newer link, an email correction or the migration itself
  kills it. Activation locks the row and changes it by a conditional UPDATE, so two tabs
  submitting one link make one account; the loser is told the link was used.
- Everything sharing the identity number of the activated row and still waiting migrates with
  it (two old accounts of one MyKad become one account, one wallet, both histories).
- An old account joins an existing eBiz account only if that account has the link's email or a
  counter-verified identity (a MyKad typed at registration proves nothing).
- Primary carries over only from an old record whose export says the identity was verified at
  a counter, and only to an account the link's owner controls (a new account, or one with the
  verified email).
- No enumeration beyond the flow: `request_link` answers the same whether a mail went out or a
  rate limit held it back; a migrated or unknown identifier gets the ordinary sign-in answer.
- Old passwords are never imported; the customer sets a new one (registration's rules).
"""

from __future__ import annotations

import csv
import io
import secrets

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select, update

from ..accounts import identity
from ..accounts import service as accounts
from ..accounts.models import Kind, Role, Tier, User
from ..audit.service import record
from ..catalog.service import names_by_sku
from ..clock import utcnow
from ..db import LIKE_ESCAPE, like_escape, lock_one
from ..errors import Conflict, EbizError, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..money import format_sen
from ..notifications.service import queue_mail, undelivered_among
from ..orders import service as orders
from ..refs import new_reference
from ..tokens import TokenError, fingerprint, make_token, read_token
from ..wallet import service as wallet
from .models import (
    LEGACY_ORDER_STATUS_LABELS,
    EmailStatus,
    LegacyCustomer,
    LegacyOrder,
    LegacyStatus,
    MigrationSupportRequest,
)

LINK_TEMPLATE = "migration_link"


class LinkProblem(EbizError):
    status = 400
    code = "migration-link"
    default_message = _l("This migration link cannot be used.")


LINK_MESSAGES = {
    "expired": _l("This migration link has expired. Sign in with your old email or identity number to get a new "
                  "one."),
    "invalid": _l("This migration link is not valid: it may have been replaced by a newer one. Use the latest "
                  "link we sent, or sign in with your old email or identity number to get a new one."),
    "spent": _l("This migration link has already been used. Sign in with your new password."),
}


def _problem(reason: str) -> LinkProblem:
    return LinkProblem(LINK_MESSAGES[reason], reason=reason)


# --------------------------------------------------------------------------------- helpers

def mask_email(email: str) -> str:
    """a***n@g***.com: enough to recognise one's own address, not enough to learn someone else's."""
    local, _sep, domain = (email or "").partition("@")
    name, _dot, tld = domain.rpartition(".")
    masked_local = f"{local[:1]}***{local[-1:] if len(local) > 1 else ''}"
    return f"{masked_local}@{name[:1]}***.{tld}" if name else f"{masked_local}@***"


def _lock(legacy_pk: int) -> LegacyCustomer | None:
    return lock_one(select(LegacyCustomer).where(LegacyCustomer.id == legacy_pk))


def _identity_filter(login: str):
    text = (login or "").replace("\x00", "").strip()
    if not text:
        return None
    if "@" in text:
        return LegacyCustomer.email == text.lower()
    compact = text.replace("-", "").replace(" ", "").upper()
    if compact.isascii() and compact.isdigit() and len(compact) == 12:
        return or_(LegacyCustomer.mykad == compact, LegacyCustomer.company_reg_no == compact)
    try:  # an old-format company number is stored as "123456-A"
        company = identity.normalise_company_reg_no(text)
    except ValidationError:
        company = compact
    return or_(LegacyCustomer.passport_no == compact, LegacyCustomer.company_reg_no == company)


def find_waiting(login: str) -> LegacyCustomer | None:
    """The first legacy account still waiting to migrate that this email or identity number names."""
    where = _identity_filter(login)
    if where is None:
        return None
    return db.session.scalars(select(LegacyCustomer).where(where, LegacyCustomer.status == LegacyStatus.WAITING)
                              .order_by(LegacyCustomer.id).limit(1)).first()


def detour_for_login(login: str) -> str | None:
    """Registered with accounts: the "ask" page for a legacy account waiting to migrate."""
    row = find_waiting(login)
    if row is None:
        return None
    return url_for("migration.ask", token=make_token("migration-ask", {"id": row.id}))


def ask_url_for_user(user) -> str | None:
    """For a signed-in customer (who registered afresh with the same email or identity number, so
    sign-in never leads to the old account): the ask page of a matching old account, if any."""
    for login in (user.email, user.mykad, user.passport_no, user.company_reg_no):
        if login and (url := detour_for_login(login)):
            return url
    return None


def _ask_row(token: str) -> LegacyCustomer:
    try:
        payload = read_token("migration-ask", token)
    except TokenError:
        raise NotFound(_l("This page has expired. Please sign in again with your old email or identity "
                          "number.")) from None
    row = db.session.get(LegacyCustomer, payload.get("id"))
    if row is None or row.status != LegacyStatus.WAITING:
        raise NotFound(_l("This page has expired. Please sign in again with your old email or identity "
                          "number."))
    return row


def ask(token: str) -> str:
    """The masked old email for the ask page."""
    return mask_email(_ask_row(token).email)


# ------------------------------------------------------------------------------ the link

def _fingerprint(row: LegacyCustomer) -> str:
    return fingerprint("migration", row.id, row.link_nonce, row.email, row.status)


def _send_link(row: LegacyCustomer) -> None:
    """A new link replaces the old one (new nonce); the mail is written to the outbox now."""
    row.link_nonce = secrets.token_hex(16)
    row.link_sent_at = utcnow()
    row.links_sent = (row.links_sent or 0) + 1
    token = make_token("migration", {"id": row.id, "fp": _fingerprint(row)})
    link = accounts.public_url("migration.link", token=token)
    hours = int(current_app.config["MIGRATION_LINK_MAX_AGE"]) // 3600
    msg = queue_mail(row.email, _l("Move your account to eBiz"), LINK_TEMPLATE, name=row.full_name,
                     link=link, hours=hours)
    db.session.flush()
    row.link_message_id = msg.id


def request_link(ask_token: str, *, ip: str | None = None) -> str:
    """The customer says the old email is still in use: email a link. Returns the masked email.

    The answer is the same when the minimum interval between two links holds this one back (the
    earlier link still works), so the page says nothing about what was sent."""
    row = _lock(_ask_row(ask_token).id)
    if row is None or row.status != LegacyStatus.WAITING:
        raise NotFound()
    masked = mask_email(row.email)
    interval = int(current_app.config["MIGRATION_LINK_MIN_INTERVAL_SECONDS"])
    if row.link_sent_at is not None and (utcnow() - row.link_sent_at).total_seconds() < interval:
        record("migration.link_held", target=row, ip=ip)
        return masked
    if row.email_status == EmailStatus.INVALID:
        row.email_status = EmailStatus.UNKNOWN  # the customer says it is in use after all
    _send_link(row)
    record("migration.link_sent", target=row, ip=ip, count=row.links_sent)
    return masked


def report_email_unused(ask_token: str, *, ip: str | None = None) -> tuple[MigrationSupportRequest, LegacyCustomer]:
    """The old email is no longer in use: a support request for administrators (one open per row,
    so saying "no" again answers with the same request and its ticket). The migration view opens the
    support ticket for a new request (`ticket_ref` still empty) and records it with `attach_ticket`."""
    row = _lock(_ask_row(ask_token).id)
    if row is None:
        raise NotFound()
    row.email_status = EmailStatus.INVALID
    row.link_nonce = None  # a link to an address the customer no longer reads must not work
    req = db.session.scalars(select(MigrationSupportRequest).where(
        MigrationSupportRequest.customer_id == row.id, MigrationSupportRequest.status == "open")).first()
    if req is None:
        req = MigrationSupportRequest(reference=new_reference("MIG"), customer_id=row.id, status="open")
        db.session.add(req)
        db.session.flush()
        record("migration.support_requested", target=row, ip=ip, reference=req.reference)
    return req, row


def attach_ticket(req: MigrationSupportRequest, ticket_reference: str) -> None:
    """The support ticket that takes the request over (opened by the migration view)."""
    req.ticket_ref = ticket_reference[:40]
    record("migration.support_ticket", target=db.session.get(LegacyCustomer, req.customer_id),
           reference=req.reference, ticket=req.ticket_ref)


def support_ticket_text(row: LegacyCustomer) -> tuple[str, str]:
    """Subject and body of the ticket for "my old email is no longer in use" (staff-facing, like the
    support desk's other system messages): what to check and how to reach the customer."""
    who = row.company_name or row.full_name
    subject = f"Old-system account {row.legacy_id}: the old email is no longer in use"
    body = (f"{who} (old-system account {row.legacy_id}) said on the migration page that the old email "
            f"{mask_email(row.email)} is no longer in use. The customer has no working email: nothing on this "
            f"ticket is mailed. They were shown this ticket's reference to quote by phone or at a counter"
            f"{'; phone on record: ' + row.phone if row.phone else ''}. Check their identity document, then "
            f"correct the email from the migration dashboard with this ticket (assigned to you).")
    return subject, body


def _row_for_link(token: str, *, lock: bool) -> LegacyCustomer:
    try:
        payload = read_token("migration", token)
    except TokenError as exc:
        raise _problem(exc.reason) from None
    legacy_pk = payload.get("id")
    if not isinstance(legacy_pk, int):
        raise _problem("invalid")
    row = _lock(legacy_pk) if lock else db.session.get(LegacyCustomer, legacy_pk)
    if row is None:
        raise _problem("invalid")
    if row.status != LegacyStatus.WAITING:
        raise _problem("spent")
    if not row.link_nonce or payload.get("fp") != _fingerprint(row):
        raise _problem("invalid")
    return row


def _identity_of(row: LegacyCustomer) -> tuple:
    if row.kind == Kind.INDIVIDUAL:
        return (User.mykad, row.mykad, LegacyCustomer.mykad)
    if row.kind == Kind.FOREIGNER:
        return (User.passport_no, row.passport_no, LegacyCustomer.passport_no)
    return (User.company_reg_no, row.company_reg_no, LegacyCustomer.company_reg_no)


def merge_target(row: LegacyCustomer) -> User | None:
    """The eBiz account this legacy row joins: the one with its identity number, else its email."""
    user_col, value, _legacy_col = _identity_of(row)
    user = db.session.scalars(select(User).where(user_col == value)).first() if value else None
    if user is None:
        user = db.session.scalars(select(User).where(func.lower(User.email) == row.email.lower())).first()
    return user


def _check_may_join(row: LegacyCustomer, user: User) -> None:
    """An old account joins an eBiz account only when that account is surely the same person's:
    it has the email the link was sent to, or its identity was verified at a counter (anyone may
    type someone else's MyKad when registering: the old balance must not go to them)."""
    if user.role != Role.CUSTOMER:
        raise Forbidden(_l("This identity belongs to a staff account. Please contact customer service."))
    if user.email.lower() != row.email.lower() and user.tier != Tier.PRIMARY:
        raise Conflict(_l("An eBiz account already uses this identity number, but it has not been verified at a "
                          "counter. To protect your balance, have that account verified at any eBiz counter with "
                          "your identity document first, then open this link again (or ask for a new one)."))


def link_form(token: str) -> tuple[LegacyCustomer, str | None]:
    """(the legacy row, the masked email of the account it will join, if any) for the form."""
    row = _row_for_link(token, lock=False)
    target = merge_target(row)
    if target is not None:
        _check_may_join(row, target)
    return row, (mask_email(target.email) if target is not None else None)


def activate(token: str, *, full_name: str, phone: str | None, address: str | None,
             company_name: str | None, password: str | None, confirm: str | None, accept_terms: bool,
             ip: str | None = None) -> tuple[User, bool]:
    """Spend the link: a new account (or the existing one this identity or email belongs to) with
    the old balance and orders. Returns (user, merged)."""
    # Every waiting row of the same identity (or email) migrates with this one. All of them are
    # locked first, in id order, before anything is checked or written: two links of one person
    # submitted at once then queue instead of deadlocking, and the second finds its row spent.
    row = _row_for_link(token, lock=False)
    _user_col, value, legacy_col = _identity_of(row)
    same = or_(legacy_col == value, LegacyCustomer.email == row.email) if value else LegacyCustomer.email == row.email
    ids = sorted(set(db.session.scalars(select(LegacyCustomer.id).where(
        same, LegacyCustomer.status == LegacyStatus.WAITING))) | {row.id})
    locked = {pk: _lock(pk) for pk in ids}
    row = _row_for_link(token, lock=False)  # again, on the locked (refreshed) row
    rows = [row] + [r for pk, r in locked.items()
                    if pk != row.id and r is not None and r.status == LegacyStatus.WAITING]
    if not accept_terms:
        raise ValidationError(_l("Please accept the terms of use to continue."), field="accept_terms")
    target = merge_target(row)
    if target is not None:
        _check_may_join(row, target)
    name = " ".join((full_name or "").split())
    address = " ".join((address or "").split()) or None
    if address and len(address) > 500:
        raise ValidationError(_l("Use at most %(n)d characters.", n=500), field="address")
    if target is None:
        user = accounts.register_proven(  # the link we mailed proved the address
            kind=row.kind, full_name=name, email=row.email, password=password or "", phone=phone,
            mykad=row.mykad, passport_no=row.passport_no, nationality=row.nationality,
            company_reg_no=row.company_reg_no,
            company_name=(" ".join((company_name or "").split()) or row.company_name),
            rep_mykad=row.rep_mykad, ip=ip, confirm=confirm)
        merged = False
    else:
        user, merged = target, True
    if address:
        row.address = address
        db.session.flush()  # before the rows are expired below
    now = utcnow()
    for r in rows:
        done = db.session.execute(
            update(LegacyCustomer).where(LegacyCustomer.id == r.id, LegacyCustomer.status == LegacyStatus.WAITING)
            .values(status=LegacyStatus.MIGRATED, user_id=user.id, migrated_at=now, link_nonce=None)
            .execution_options(synchronize_session=False)).rowcount
        if done != 1:  # cannot happen under the row lock; refuse rather than double anything
            raise _problem("spent")
        if r.balance_imported and r.balance_sen:
            wallet.claim_legacy_balance(user, r.legacy_id, r.balance_sen)
        db.session.expire(r)
    verified = [r for r in rows if r.counter_verified]
    if verified and (not merged or user.email.lower() == row.email.lower()):
        accounts.carry_over_primary(user, source=verified[0].legacy_id, ip=ip)
    record("migration.activated", actor=user if not merged else None, target=user, ip=ip,
           legacy_ids=[r.legacy_id for r in rows], merged=merged,
           terms_version=current_app.config["TERMS_VERSION"])
    return user, merged


# ---------------------------------------------------------------------- history in My orders

def history_for(user) -> list[dict]:
    """Registered with orders: the old system's orders of `user`, newest first, read-only."""
    if user is None or not getattr(user, "id", None):
        return []
    rows = db.session.execute(
        select(LegacyOrder).join(LegacyCustomer, LegacyOrder.customer_id == LegacyCustomer.id)
        .where(LegacyCustomer.user_id == user.id).order_by(LegacyOrder.ordered_on.desc(), LegacyOrder.id.desc())
    ).scalars().all()
    lines = {o.id: [part.partition("*") for part in o.items.split("|")] for o in rows}
    names = names_by_sku({sku for parts in lines.values() for sku, _s, _q in parts})
    return [dict(reference=o.legacy_ref, placed=o.ordered_on.strftime("%d/%m/%Y"),
                 lines=", ".join(f"{names.get(sku, sku)} × {qty}" for sku, _s, qty in lines[o.id]),
                 total_sen=o.total_sen, status=str(LEGACY_ORDER_STATUS_LABELS.get(o.status, o.status)))
            for o in rows]


def migrated_summary(user) -> dict:
    """What the old system brought to `user`: old ids, balance, orders (for the welcome page)."""
    rows = db.session.execute(select(LegacyCustomer.legacy_id, LegacyCustomer.balance_sen).where(
        LegacyCustomer.user_id == user.id)).all()
    return {"legacy_ids": [r[0] for r in rows], "balance_sen": sum(r[1] for r in rows),
            "orders": len(history_for(user)), "wallet_sen": wallet.balance(user)}


# --------------------------------------------------------------------------- administrators

def _require_admin(actor) -> None:
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden()


def dashboard(actor) -> dict:
    """Counts for the migration dashboard (one query for the legacy rows, one for bounced links)."""
    _require_admin(actor)
    c = LegacyCustomer
    waiting = c.status == LegacyStatus.WAITING
    row = db.session.execute(select(
        func.count(c.id),
        func.count(case((c.status == LegacyStatus.MIGRATED, 1))),
        func.count(case((waiting, 1))),
        func.count(case((waiting & c.link_nonce.is_not(None), 1))),
        func.count(case((waiting & (c.email_status == EmailStatus.INVALID), 1))),
        func.coalesce(func.sum(case((waiting, c.balance_sen), else_=0)), 0),
        func.count(case((waiting & (c.balance_sen > 0), 1))),
    )).one()
    bounced = undelivered_among(select(c.link_message_id).where(waiting, c.link_message_id.is_not(None)))
    _opened, unclaimed_ledger = wallet.legacy_totals()
    open_requests = db.session.scalar(select(func.count(MigrationSupportRequest.id))
                                      .where(MigrationSupportRequest.status == "open"))
    return dict(imported=row[0], migrated=row[1], waiting=row[2], links_unused=row[3], invalid=row[4],
                bounced=bounced, unclaimed_sen=int(row[5]), unclaimed_accounts=row[6],
                unclaimed_ledger_sen=unclaimed_ledger, open_requests=open_requests)


def search(actor, q: str | None, *, limit: int = 50) -> list[LegacyCustomer]:
    _require_admin(actor)
    query = select(LegacyCustomer).order_by(LegacyCustomer.id)
    text = (q or "").strip()[:200]
    if text:
        where = _identity_filter(text)
        like = f"%{like_escape(text)}%"
        query = query.where(or_(where, LegacyCustomer.legacy_id == text,
                                LegacyCustomer.full_name.ilike(like, escape=LIKE_ESCAPE)))
    return list(db.session.scalars(query.limit(limit)))


def support_requests(actor) -> list[tuple[MigrationSupportRequest, LegacyCustomer]]:
    _require_admin(actor)
    return list(db.session.execute(
        select(MigrationSupportRequest, LegacyCustomer).join(LegacyCustomer)
        .where(MigrationSupportRequest.status == "open").order_by(MigrationSupportRequest.id)).all())


def export_csv(actor) -> str:
    """Every legacy account and where it stands (the dashboard's CSV export)."""
    _require_admin(actor)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["legacy_id", "kind", "status", "email_status", "links_sent", "link_sent_at", "balance",
                "migrated_at", "user_id"])
    for r in db.session.execute(select(
            LegacyCustomer.legacy_id, LegacyCustomer.kind, LegacyCustomer.status, LegacyCustomer.email_status,
            LegacyCustomer.links_sent, LegacyCustomer.link_sent_at, LegacyCustomer.balance_sen,
            LegacyCustomer.migrated_at, LegacyCustomer.user_id).order_by(LegacyCustomer.id)).yield_per(1000):
        w.writerow([r[0], r[1], r[2], r[3], r[4], r[5].isoformat() if r[5] else "",
                    format_sen(r[6], currency="").strip(), r[7].isoformat() if r[7] else "", r[8] or ""])
    record("migration.exported", actor=actor)
    return out.getvalue()


def get_for_admin(actor, legacy_pk: int) -> LegacyCustomer:
    _require_admin(actor)
    row = db.session.get(LegacyCustomer, legacy_pk)
    if row is None:
        raise NotFound()
    return row


def get_by_legacy_id(actor, legacy_id: str) -> LegacyCustomer:
    _require_admin(actor)
    row = db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == (legacy_id or "")[:40]))
    if row is None:
        raise NotFound()
    return row


def correct_email(actor, legacy_pk: int, *, new_email: str, reason: str, ticket_reference: str,
                  ip: str | None = None) -> LegacyCustomer:
    """After an identity check: a new email for a waiting legacy account (audited), and a new link
    to it (the old links die with the old address). `ticket_reference` is the support ticket the
    migration view has already checked with the support desk (`ticket_for_action`): this domain
    never imports support."""
    _require_admin(actor)
    if not ticket_reference:
        raise Forbidden()
    errors = {}
    reason = " ".join((reason or "").split())
    try:
        email = identity.normalise_email(new_email, field="email")
    except ValidationError as exc:
        errors["email"] = str(exc.message)
        email = None
    if not reason:
        errors["reason"] = str(_l("Say why (for example: MyKad seen at the HQ counter)."))
    row = _lock(legacy_pk)
    if row is None:
        raise NotFound()
    if row.status != LegacyStatus.WAITING:
        raise Conflict(_l("This legacy account has already migrated."))
    if email and email != row.email and db.session.scalar(
            select(LegacyCustomer.id).where(LegacyCustomer.email == email, LegacyCustomer.id != row.id)):
        errors["email"] = str(_l("Another legacy account has this email."))
    if errors:
        field = next(iter(errors))
        raise ValidationError(errors[field], field=field, errors=errors)
    old = row.email
    row.email = email
    row.email_status = EmailStatus.CORRECTED
    record("migration.email_corrected", actor=actor, target=row, ip=ip, reason=reason[:300],
           ticket=ticket_reference[:40], old_email=mask_email(old), new_email=mask_email(email))
    _send_link(row)
    record("migration.link_sent", actor=actor, target=row, ip=ip, count=row.links_sent)
    for req in db.session.scalars(select(MigrationSupportRequest).where(
            MigrationSupportRequest.customer_id == row.id, MigrationSupportRequest.status == "open")):
        req.status = "closed"
        req.closed_at = utcnow()
        req.ticket_ref = req.ticket_ref or ticket_reference[:40]
    return row


def resend_link(actor, legacy_pk: int, *, ip: str | None = None) -> LegacyCustomer:
    _require_admin(actor)
    row = _lock(legacy_pk)
    if row is None:
        raise NotFound()
    if row.status != LegacyStatus.WAITING:
        raise Conflict(_l("This legacy account has already migrated."))
    _send_link(row)
    record("migration.link_sent", actor=actor, target=row, ip=ip, count=row.links_sent)
    return row


def register_hooks() -> None:
    """Called once by create_app: a sign-in with a legacy identifier takes the migration detour, and
    My orders lists the old system's orders (accounts and orders never import migration)."""
    accounts.register_unknown_login_handler(detour_for_login)
    orders.register_history_source(history_for)
