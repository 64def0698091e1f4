"""Licences: the terms a customer accepts, and the grants a paid line issues.

Invariants:
- A `LicenceAcceptance` records the exact text accepted: licence type key,
  version and the SHA-256 of the Markdown file's text, with time and IP.
- A `LicenceGrant` is issued once per paid order line (or delivered digital
  service); its `number` is public (printed on certificates, checked at
  /verify/<number>) and non-guessable. A grant is valid while `status` is
  active and today is within [valid_from, valid_until] (no end when null).
- Grants are never deleted; revocation sets status, time and reason.
"""

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class LicenceAcceptance(db.Model):
    __tablename__ = "licence_acceptance"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    licence_key: Mapped[str] = mapped_column(String(60))
    licence_version: Mapped[str] = mapped_column(String(20))
    text_sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class LicenceGrant(db.Model):
    __tablename__ = "licence_grant"
    __table_args__ = (CheckConstraint("status IN ('active', 'revoked')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("product_version.id"))
    order_line_id: Mapped[int | None] = mapped_column(unique=True)
    acceptance_id: Mapped[int | None] = mapped_column(ForeignKey("licence_acceptance.id"))
    licence_key: Mapped[str] = mapped_column(String(60))
    licence_version: Mapped[str] = mapped_column(String(20))
    text_sha256: Mapped[str] = mapped_column(String(64))
    permitted_use: Mapped[str] = mapped_column(Text)
    # Restricted data: the approved application it was bought under, and the approval's conditions.
    application_ref: Mapped[str | None] = mapped_column(String(20))
    conditions: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    valid_until: Mapped[object | None] = mapped_column(db.DateTime)
    status: Mapped[str] = mapped_column(String(10), default="active")
    revoked_at: Mapped[object | None] = mapped_column(db.DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    user = db.relationship("User")
