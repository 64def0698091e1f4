"""Who may buy what: the purchase rule and restricted access.

Invariants:
- `may_purchase` is the one answer to "may this customer buy this product": published; digital
  data and digital services need a Primary customer (Regular customers may buy printed products
  and register for training); a restricted product needs a `RestrictedAccess` row in force.
- Granting and revoking restricted access write an audit event in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..audit.service import record
from ..clock import utcnow
from ..errors import NotFound, ValidationError
from ..extensions import db
from .models import (
    Product,
    ProductStatus,
    ProductType,
    RestrictedAccess,
    ServiceKind,
)

# -- who may buy ---------------------------------------------------------------

def needs_primary(product: Product) -> bool:
    """Digital data and digital (on-demand) services are for Primary customers only."""
    return product.type == ProductType.DIGITAL or (
        product.type == ProductType.SERVICE and product.service_kind == ServiceKind.EXTRACTION)


def has_restricted_access(user, product: Product, now: datetime | None = None) -> bool:
    now = now or utcnow()
    q = select(RestrictedAccess.id).where(
        RestrictedAccess.user_id == user.id, RestrictedAccess.product_id == product.id,
        RestrictedAccess.revoked_at.is_(None),
        or_(RestrictedAccess.expires_at.is_(None), RestrictedAccess.expires_at > now)).limit(1)
    return db.session.execute(q).first() is not None


def may_purchase(user, product: Product) -> tuple[bool, str | None]:
    """(True, None), or (False, a translatable reason a customer can act on).

    Eligibility only: stock and seats are checked when they are reserved.
    """
    if product is None or product.status != ProductStatus.PUBLISHED:
        return False, _l("This product is not on sale.")
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if product.restricted and not (signed_in and has_restricted_access(user, product)):
        return False, _l("This is restricted data: it is sold only to customers whose application for access "
                         "has been approved by the department. Apply online from this page; once your "
                         "application is approved you can buy it here, within what was approved.")
    if not signed_in:
        return False, _l("Sign in to buy this product.")
    if needs_primary(product) and not user.is_primary:
        return False, _l("Digital data and digital services are sold to Primary customers only. "
                         "Verify your identity at any eBiz counter (bring your MyKad, passport or "
                         "company registration documents) to upgrade your account to Primary.")
    return True, None


def grant_restricted_access(user_id: int, product_id: int, *, source_ref: str, granted_by=None,
                            expires_at: datetime | None = None, ip: str | None = None) -> RestrictedAccess:
    """Record an approved access (called by the applications domain, or an admin)."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    if not product.restricted:
        raise ValidationError(_l("This product is not restricted."), field="product")
    if not source_ref or not source_ref.strip():
        raise ValidationError(_l("Say which application or decision this access comes from."), field="source_ref")
    row = RestrictedAccess(user_id=user_id, product_id=product_id, source_ref=source_ref.strip()[:60],
                           granted_by=getattr(granted_by, "id", granted_by), expires_at=expires_at)
    db.session.add(row)
    db.session.flush()
    record("catalog.restricted_access.grant", actor=granted_by, target=row, ip=ip, user_id=user_id,
           product_id=product_id, source_ref=row.source_ref)
    return row


def revoke_restricted_access(access_id: int, *, actor, reason: str, ip: str | None = None) -> RestrictedAccess:
    row = db.session.get(RestrictedAccess, access_id)
    if row is None:
        raise NotFound()
    if not reason or not reason.strip():
        raise ValidationError(_l("Give a reason."), field="reason")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_by = getattr(actor, "id", actor)
        row.revoked_reason = reason.strip()[:300]
        record("catalog.restricted_access.revoke", actor=actor, target=row, ip=ip, reason=row.revoked_reason)
    return row


def restricted_access_for_source(user_id: int, source_ref: str) -> list[RestrictedAccess]:
    """The user's accesses in force that came from one source (an application's reference)."""
    return list(db.session.scalars(select(RestrictedAccess).where(
        RestrictedAccess.user_id == user_id, RestrictedAccess.source_ref == source_ref,
        RestrictedAccess.revoked_at.is_(None)).order_by(RestrictedAccess.id)))


def restricted_access_sources(user_id: int, product_id: int, now: datetime | None = None) -> set[str]:
    """Where the user's accesses in force to this product came from (application references, "admin")."""
    now = now or utcnow()
    return set(db.session.scalars(select(RestrictedAccess.source_ref).where(
        RestrictedAccess.user_id == user_id, RestrictedAccess.product_id == product_id,
        RestrictedAccess.revoked_at.is_(None),
        or_(RestrictedAccess.expires_at.is_(None), RestrictedAccess.expires_at > now))))


def restricted_access_for(product_id: int) -> list[RestrictedAccess]:
    return list(db.session.scalars(select(RestrictedAccess).where(RestrictedAccess.product_id == product_id)
                                   .order_by(RestrictedAccess.id.desc())))
