"""Entitlements: what a licence grant lets its customer download, the files that go with it, why a
download is refused, staff changes to an allowance and staff lookups.

Invariants:
- One `Entitlement` per licence grant (`grant_entitlement` is idempotent): `downloads_allowed` =
  the product's download_limit, usable for download_window_days from the grant.
- Staff changes to an allowance are audited with their reason, in the same transaction.
- Every lookup for a customer goes through the customer's own entitlements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..audit.service import record
from ..catalog.models import Product
from ..catalog.service import latest_version, newer_versions_of
from ..clock import utcnow
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..licensing.models import LicenceGrant
from ..refs import new_reference
from .files import store_file
from .models import DownloadEvent, Entitlement, ProductFile

# -- entitlements ------------------------------------------------------------------------

def grant_entitlement(grant: LicenceGrant) -> Entitlement:
    """The download allowance for a licence grant (idempotent: one per grant)."""
    existing = db.session.scalar(select(Entitlement).where(Entitlement.grant_id == grant.id))
    if existing is not None:
        return existing
    product = db.session.get(Product, grant.product_id)
    version_id = grant.version_id
    if version_id is None and product.type == "digital":
        latest = latest_version(product.id)
        version_id = latest.id if latest else None
    start = grant.valid_from or utcnow()
    ent = Entitlement(ref=new_reference("DL"), user_id=grant.user_id, grant_id=grant.id, product_id=product.id,
                      version_id=version_id, order_line_id=grant.order_line_id,
                      downloads_allowed=max(1, product.download_limit or 1), downloads_used=0,
                      expires_at=start + timedelta(days=max(1, product.download_window_days or 1)))
    db.session.add(ent)
    db.session.flush()
    record("delivery.entitlement.grant", target=ent, user_id=grant.user_id, grant=grant.number,
           downloads=ent.downloads_allowed, expires_at=ent.expires_at.isoformat())
    return ent


def attach_deliverable(order_line_id: int, grant: LicenceGrant, fileobj: BinaryIO, filename: str, actor,
                       ip: str | None = None) -> ProductFile:
    """Staff attach a file to an order line of an on-demand digital service; the customer may download it."""
    if grant.order_line_id != order_line_id:
        raise ValidationError(_l("This licence was not issued for this order line."))
    if grant.status != "active":
        raise ValidationError(_l("This licence has been revoked."))
    pf = store_file(grant.product_id, fileobj, filename, actor=actor, order_line_id=order_line_id, ip=ip)
    grant_entitlement(grant)
    return pf


def files_for(ent: Entitlement) -> list[ProductFile]:
    conds = []
    if ent.version_id is not None:
        conds.append(ProductFile.version_id == ent.version_id)
    if ent.order_line_id is not None:
        conds.append(ProductFile.order_line_id == ent.order_line_id)
    if not conds:
        return []
    return list(db.session.scalars(select(ProductFile).where(or_(*conds), ProductFile.removed_at.is_(None))
                                   .order_by(ProductFile.id)))


def files_for_many(ents) -> dict[int, list[ProductFile]]:
    """`files_for` for many entitlements in one query: entitlement id -> its files."""
    version_ids = sorted({e.version_id for e in ents if e.version_id is not None})
    line_ids = sorted({e.order_line_id for e in ents if e.order_line_id is not None})
    conds = []
    if version_ids:
        conds.append(ProductFile.version_id.in_(version_ids))
    if line_ids:
        conds.append(ProductFile.order_line_id.in_(line_ids))
    by_version: dict[int, list[ProductFile]] = {}
    by_line: dict[int, list[ProductFile]] = {}
    if conds:
        for pf in db.session.scalars(select(ProductFile).where(or_(*conds), ProductFile.removed_at.is_(None))
                                     .order_by(ProductFile.id)):
            if pf.version_id is not None:
                by_version.setdefault(pf.version_id, []).append(pf)
            if pf.order_line_id is not None:
                by_line.setdefault(pf.order_line_id, []).append(pf)
    out = {}
    for e in ents:
        found = {pf.id: pf for pf in by_version.get(e.version_id, []) + by_line.get(e.order_line_id, [])}
        out[e.id] = [found[i] for i in sorted(found)]
    return out


def refusal(ent: Entitlement, grant: LicenceGrant, now=None, *, need_remaining: bool = True) -> str | None:
    """Why this entitlement cannot be used now (a kind), or None."""
    now = now or utcnow()
    if grant.status != "active" or (grant.valid_until is not None and grant.valid_until <= now):
        return "revoked"
    if ent.expires_at <= now:
        return "window"
    if need_remaining and ent.downloads_used >= ent.downloads_allowed:
        return "exhausted"
    return None


@dataclass
class EntitlementView:
    entitlement: Entitlement
    files: list
    newer: list = field(default_factory=list)
    refusal: str | None = None


def entitlements_for(user) -> list[EntitlementView]:
    """Every entitlement of the customer, newest first, with files, newer versions and usability."""
    # A fixed number of queries however many rows: relations and files are loaded for all at once.
    rows = list(db.session.scalars(
        select(Entitlement).where(Entitlement.user_id == user.id)
        .options(selectinload(Entitlement.grant), selectinload(Entitlement.product),
                 selectinload(Entitlement.version))
        .order_by(Entitlement.id.desc())))
    newer = newer_versions_of(ent.version for ent in rows)
    files = files_for_many(rows)
    return [EntitlementView(ent, files[ent.id], newer.get(ent.version_id, []), refusal(ent, ent.grant))
            for ent in rows]


def adjust_allowance(entitlement_id: int, *, actor, add_downloads: int = 0, extend_days: int = 0, reason: str,
                     ip: str | None = None) -> Entitlement:
    """Staff restore downloads and/or extend the window of one entitlement; audited with the reason."""
    if not reason or len(reason.strip()) < 5:
        raise ValidationError(_l("Give the reason (at least 5 characters); it is kept in the audit log."),
                              field="reason")
    if add_downloads < 0 or extend_days < 0 or (add_downloads == 0 and extend_days == 0):
        raise ValidationError(_l("Add downloads or days (zero or more, not both zero)."), field="add_downloads")
    if add_downloads > 100 or extend_days > 3650:
        raise ValidationError(_l("That is more than staff may grant at once."), field="add_downloads")
    ent = db.session.get(Entitlement, entitlement_id)
    if ent is None:
        raise NotFound()
    before = (ent.downloads_allowed, ent.downloads_used, ent.expires_at)
    values = {}
    if add_downloads:
        values["downloads_allowed"] = Entitlement.downloads_allowed + add_downloads
    if extend_days:
        now = utcnow()
        base = ent.expires_at if ent.expires_at > now else now
        values["expires_at"] = base + timedelta(days=extend_days)
    db.session.execute(update(Entitlement).where(Entitlement.id == ent.id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.expire(ent)
    record("delivery.entitlement.adjust", actor=actor, target=ent, ip=ip, reason=reason.strip()[:300],
           add_downloads=add_downloads, extend_days=extend_days, before_allowed=before[0],
           before_used=before[1], before_expires=before[2].isoformat())
    return ent



# -- staff lookups -------------------------------------------------------------------------

def entitlement_by_ref(ref: str) -> Entitlement:
    ent = db.session.scalar(select(Entitlement).where(Entitlement.ref == ref))
    if ent is None:
        raise NotFound()
    return ent


def find_entitlements(query: str, limit: int = 50) -> list[Entitlement]:
    """Staff search by entitlement reference or licence number (exact), or customer email (any part
    of it, case-insensitive). The grant, its customer and the product come loaded, for the list."""
    query = (query or "").strip()
    q = select(Entitlement).options(selectinload(Entitlement.grant).joinedload(LicenceGrant.user),
                                    selectinload(Entitlement.product))
    if query:
        q = q.join(LicenceGrant, LicenceGrant.id == Entitlement.grant_id) \
            .join(User, User.id == Entitlement.user_id) \
            .where(or_(Entitlement.ref == query.upper(), LicenceGrant.number == query.upper(),
                       func.lower(User.email).contains(query.lower(), autoescape=True)))
    return list(db.session.scalars(q.order_by(Entitlement.id.desc()).limit(limit)))


def download_history(entitlement_id: int, limit: int = 100) -> list[DownloadEvent]:
    return list(db.session.scalars(select(DownloadEvent).where(DownloadEvent.entitlement_id == entitlement_id)
                                   .order_by(DownloadEvent.id.desc()).limit(limit)))
