"""The catalogue: categories, products, versions and training sessions.

Invariants:
- `price_sen` is an integer >= 0; `stock` (printed products) and
  `seats_taken` (training sessions) never go below zero or above what exists:
  CHECK constraints, and reservations are conditional UPDATEs.
- A digital product or digital service names a licence (`licence_key`, a
  file in licenses/); printed products need none.
- A restricted product is visible but purchasable only with an approved
  restricted-data application (see catalog.service.may_purchase).
- Product files are owned by the delivery domain and point at a version.
- `RestrictedAccess` rows are never deleted: revocation sets `revoked_at`.
  A row is in force while not revoked and not past `expires_at`.
- Listing and search never scan the table: every listing path has an index
  starting with `status`; on PostgreSQL the full-text search uses a GIN index
  on the `simple` tsvector of name and description in both languages (`SEARCH_VECTOR_SQL`).
- Products speak both languages: `name`, `description` and a version's `change_notes` are the
  English, `name_ms`, `description_ms` and `change_notes_ms` the Malay; a reader sees their own
  language (`in_language`), and a row from before Malay was kept falls back to the English.
"""

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class ProductType(StrEnum):
    DIGITAL = "digital"  # downloadable data, always under a licence
    PRINTED = "printed"  # collected at a counter
    SERVICE = "service"  # training programmes and on-demand digital services


class ServiceKind(StrEnum):
    TRAINING = "training"
    EXTRACTION = "extraction"


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


# The expression the GIN index covers; a search must use exactly this text to use the index.
SEARCH_VECTOR_SQL = ("to_tsvector('simple', name || ' ' || coalesce(name_ms, '') || ' ' || "
                     "coalesce(description, '') || ' ' || coalesce(description_ms, ''))")

LOCALISED_FIELDS = ("name", "description", "change_notes")


def in_language(obj, field: str, locale: str) -> str:
    """`obj.<field>` in the reader's language: the `_ms` column for Malay (the English when that is
    empty), the plain column (English) otherwise. Works on models, listing rows and invoice lines."""
    get = obj.get if isinstance(obj, dict) else lambda key: getattr(obj, key, None)  # invoice lines are dicts
    english = get(field) or ""
    if str(locale) == "en":
        return english
    return get(f"{field}_ms") or english


class Category(db.Model):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_ms: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_ms


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("type IN ('digital', 'printed', 'service')", name="type"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        CheckConstraint("price_sen >= 0", name="price_nonnegative"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonnegative"),
        Index("ix_product_listing", "status", "category_id", "name"),
        Index("ix_product_status_name", "status", "name"),
        Index("ix_product_status_type_name", "status", "type", "name"),
        Index("ix_product_status_price", "status", "price_sen"),
        Index("ix_product_status_created", "status", "created_at"),
        Index("ix_product_status_state_district", "status", "state", "district", "name"),
        Index("ix_product_status_format_name", "status", "data_format", "name"),
        # PostgreSQL only: full-text search (SQLite searches with LIKE instead).
        # fastupdate off: catalogue writes are rare, and a search must never scan GIN's pending list.
        Index("ix_product_search", text(SEARCH_VECTOR_SQL), postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    type: Mapped[str] = mapped_column(String(10))
    service_kind: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))  # English
    name_ms: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # English
    description_ms: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    price_sen: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default=ProductStatus.DRAFT)
    restricted: Mapped[bool] = mapped_column(default=False)
    licence_key: Mapped[str | None] = mapped_column(String(60))
    permitted_use: Mapped[str | None] = mapped_column(Text)
    # Coverage and format (digital data).
    state: Mapped[str | None] = mapped_column(String(60), index=True)
    district: Mapped[str | None] = mapped_column(String(80))
    data_format: Mapped[str | None] = mapped_column(String(40), index=True)
    crs: Mapped[str | None] = mapped_column(String(60))
    allowed_extensions: Mapped[str | None] = mapped_column(String(200))  # ".zip,.gpkg"
    # Download allowance per purchase (digital).
    download_limit: Mapped[int] = mapped_column(default=5)
    download_window_days: Mapped[int] = mapped_column(default=30)
    # Printed products.
    stock: Mapped[int | None] = mapped_column()
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)

    category = relationship(Category, lazy="joined")
    versions = relationship("ProductVersion", back_populates="product", order_by="ProductVersion.release_date.desc()")
    sessions = relationship("TrainingSession", back_populates="product", order_by="TrainingSession.starts_at")

    @property
    def coverage(self) -> str | None:
        """'Selangor, Petaling': the state and district covered, as one line."""
        return ", ".join(x for x in (self.state, self.district) if x) or None

    @property
    def needs_licence(self) -> bool:
        return self.type == ProductType.DIGITAL or (
            self.type == ProductType.SERVICE and self.service_kind == ServiceKind.EXTRACTION
        )


class ProductVersion(db.Model):
    __tablename__ = "product_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    label: Mapped[str] = mapped_column(String(40))
    release_date: Mapped[object] = mapped_column(db.Date)
    change_notes: Mapped[str] = mapped_column(Text, default="")  # English
    change_notes_ms: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(default=True)
    # What this release is: a later release may change its format, CRS or coverage.
    # Recorded when the version is added (the product's values unless staff give others).
    data_format: Mapped[str | None] = mapped_column(String(40))
    crs: Mapped[str | None] = mapped_column(String(60))
    coverage: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)

    product = relationship(Product, back_populates="versions")

    def facts(self) -> dict[str, str | None]:
        """Format, CRS and coverage of this release; a version that recorded none shows its product's."""
        p = self.product
        return {"format": self.data_format or p.data_format, "crs": self.crs or p.crs,
                "coverage": self.coverage or p.coverage}

    def differences(self) -> dict[str, str]:
        """The facts of this release that differ from the product's description (an older release)."""
        p = self.product
        current = {"format": p.data_format, "crs": p.crs, "coverage": p.coverage}
        return {k: v for k, v in self.facts().items() if v and v != current[k]}


class TrainingSession(db.Model):
    __tablename__ = "training_session"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= seats_total", name="seats_within_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    starts_at: Mapped[object] = mapped_column(db.DateTime)
    ends_at: Mapped[object] = mapped_column(db.DateTime)
    venue: Mapped[str] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(default=False)
    seats_total: Mapped[int] = mapped_column()
    seats_taken: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[bool] = mapped_column(default=False)

    product = relationship(Product, back_populates="sessions")

    @property
    def seats_left(self) -> int:
        return self.seats_total - self.seats_taken


class RestrictedAccess(db.Model):
    """An approved right to buy one restricted product (fed by applications, or an admin)."""

    __tablename__ = "restricted_access"
    __table_args__ = (Index("ix_restricted_access_user_product", "user_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    source_ref: Mapped[str] = mapped_column(String(60))  # an application reference, or "admin"
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[object] = mapped_column(db.DateTime, default=utcnow)
    expires_at: Mapped[object | None] = mapped_column(db.DateTime)
    revoked_at: Mapped[object | None] = mapped_column(db.DateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_reason: Mapped[str | None] = mapped_column(String(300))

    product = relationship(Product)
