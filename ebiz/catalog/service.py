"""Catalogue rules: who may buy what, stock and seats, listing and search, staff edits.

Invariants:
- `may_purchase` is the one answer to "may this customer buy this product":
  published; digital data and digital services need a Primary customer
  (Regular customers may buy printed products and register for training);
  a restricted product needs a `RestrictedAccess` row in force.
- Stock and seats change only through `reserve_stock`/`release_stock` and
  `reserve_seat`/`release_seat`: single conditional UPDATEs, so concurrent
  buyers can never take more than exists (the CHECK constraints back this up).
- Listing and search read at most one page (+1 row) through an index; the
  offset is bounded (MAX_PAGE) and no COUNT(*) runs over the catalogue.
- Staff edits (create, edit, publish, retire, restricted access) write an
  audit event in the same transaction. Catalogue code never touches storage.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, bindparam, or_, select, text, update

from ..audit.service import record
from ..clock import utcnow
from ..db import LIKE_ESCAPE, begin_write, like_escape
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..money import format_sen
from .models import (
    SEARCH_VECTOR_SQL,
    Category,
    Product,
    ProductStatus,
    ProductType,
    ProductVersion,
    RestrictedAccess,
    ServiceKind,
    TrainingSession,
    in_language,  # noqa: F401 (for other domains: a product's name or notes in a reader's language)
)

PAGE_SIZE = 24
MAX_PRICE_SEN = 100_000_000  # RM 1 million a unit; a product's price is INTEGER sen
MAX_PAGE = 200  # deeper pages: narrow the filters or search (bounded offset, never a scan)
SEARCH_CAP = 5000  # a search considers at most this many matches (PostgreSQL); refine beyond that


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


# -- stock and seats -------------------------------------------------------------

def reserve_stock(product_id: int, qty: int) -> None:
    """Take `qty` from a printed product's stock, or raise Conflict: never oversells."""
    if qty < 1:
        raise ValidationError(_l("Quantity must be at least 1."), field="quantity")
    done = db.session.execute(
        update(Product).where(Product.id == product_id, Product.stock.is_not(None), Product.stock >= qty)
        .values(stock=Product.stock - qty).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("Sorry, there is not enough stock left for this quantity."), field="quantity")
    _expire(Product, product_id)


def release_stock(product_id: int, qty: int) -> None:
    if qty < 1:
        raise ValidationError(_l("Quantity must be at least 1."), field="quantity")
    done = db.session.execute(
        update(Product).where(Product.id == product_id, Product.stock.is_not(None))
        .values(stock=Product.stock + qty).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise NotFound()
    _expire(Product, product_id)


def reserve_seat(session_id: int) -> None:
    """Take one seat of a training session, or raise Conflict when it is full or cancelled."""
    done = db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session_id, TrainingSession.cancelled.is_(False),
               TrainingSession.seats_taken < TrainingSession.seats_total)
        .values(seats_taken=TrainingSession.seats_taken + 1)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("Sorry, this session is full."), field="session")
    _expire(TrainingSession, session_id)


def release_seat(session_id: int) -> None:
    done = db.session.execute(
        update(TrainingSession).where(TrainingSession.id == session_id, TrainingSession.seats_taken > 0)
        .values(seats_taken=TrainingSession.seats_taken - 1)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Conflict(_l("This session has no seat to release."))
    _expire(TrainingSession, session_id)


def _expire(model, pk) -> None:
    """The UPDATE bypassed the ORM: make a loaded copy re-read its counters."""
    obj = db.session.identity_map.get(db.session.identity_key(model, pk))
    if obj is not None:
        db.session.expire(obj)


# -- listing and search ------------------------------------------------------------

@dataclass
class Filters:
    q: str = ""
    category: str = ""
    type: str = ""
    state: str = ""
    district: str = ""
    format: str = ""
    sort: str = "name"
    page: int = 1


@dataclass
class Page:
    items: list
    page: int
    has_next: bool
    capped: bool  # the next page exists but is beyond MAX_PAGE


_WORD = re.compile(r"[\w]+", re.UNICODE)


def _tsquery(q: str) -> str:
    """Words as an AND query; only word characters, so never a syntax error.

    Complete words match exactly (a fast GIN lookup); the last word also matches as a
    prefix when it has 3 or more characters, so "cadastral petal" finds Petaling.
    """
    words = [w.lower() for w in _WORD.findall(unicodedata.normalize("NFKC", q))][:8]
    terms = words[:-1] + [f"{words[-1]}:*" if len(words[-1]) >= 3 else words[-1]] if words else []
    return " & ".join(terms)


LISTING_COLUMNS = (Product.id, Product.slug, Product.sku, Product.name, Product.name_ms, Product.type,
                   Product.service_kind, Product.category_id, Product.price_sen, Product.status, Product.restricted,
                   Product.state, Product.district, Product.data_format)


_SORTS = ("name", "price_asc", "price_desc", "newest")


def _sort(cols, key: str) -> tuple:
    return {
        "name": (cols.name.asc(), cols.id.asc()),
        "price_asc": (cols.price_sen.asc(), cols.id.asc()),
        "price_desc": (cols.price_sen.desc(), cols.id.desc()),
        "newest": (cols.created_at.desc(), cols.id.desc()),
    }.get(key) or (cols.name.asc(), cols.id.asc())


def _filtered(q, cols, f: Filters, include_unpublished: bool):
    """Apply the listing filters to `q` over `cols` (the product table, or the search hits)."""
    if not include_unpublished:
        q = q.where(cols.status == ProductStatus.PUBLISHED)
    if f.category:
        cat_id = next((c.id for c in categories() if c.slug == f.category), None)
        q = q.where(cols.category_id == (cat_id or -1))
    if f.type in set(ProductType):
        q = q.where(cols.type == f.type)
    if f.state:
        q = q.where(cols.state == f.state)
    if f.district:
        q = q.where(cols.district == f.district)
    if f.format:
        q = q.where(cols.data_format == f.format)
    return q


_listing_statements: dict = {}


def _listing(f: Filters, include_unpublished: bool, offset: int, limit: int, tsq: str | None = None):
    """(statement, parameters) of a listing, the query `_filtered` builds; with `tsq`, the
    PostgreSQL full-text search (see list_products).

    One statement per shape (search or not, which filters are set, the sort), with bound
    parameters for the values, kept for reuse: building and cache-keying a fresh statement cost
    about a tenth of a listing request (SQLAlchemy memoises the cache key of a statement object).
    """
    typ = f.type if f.type in set(ProductType) else ""
    sort = f.sort if f.sort in _SORTS else "name"
    shape = (tsq is not None, include_unpublished, bool(f.category), bool(typ), bool(f.state), bool(f.district),
             bool(f.format), sort)
    params = {"offset": offset, "limit": limit}
    if tsq is not None:
        params["tsq"] = tsq
    if f.category:
        params["category_id"] = next((c.id for c in categories() if c.slug == f.category), None) or -1
    for key, value in (("type", typ), ("state", f.state), ("district", f.district), ("data_format", f.format)):
        if value:
            params[key] = value
    stmt = _listing_statements.get(shape)
    if stmt is None:
        stmt = _build_listing(shape, params)
        if len(_listing_statements) < 512:  # shapes are few (2 x 2^6 x 4 sorts); never grows without bound
            _listing_statements[shape] = stmt
    return stmt, params


def _build_listing(shape: tuple, params: dict):
    search, include_unpublished, *_flags, sort = shape

    def filtered(q, cols):
        if not include_unpublished:
            q = q.where(cols.status == ProductStatus.PUBLISHED)
        for key in ("category_id", "type", "state", "district", "data_format"):
            if key in params:
                q = q.where(getattr(cols, key) == bindparam(key))
        return q.order_by(*_sort(cols, sort)).offset(bindparam("offset", type_=Integer)) \
            .limit(bindparam("limit", type_=Integer))

    if not search:
        return filtered(select(*LISTING_COLUMNS), Product)
    hits = (select(Product.id, Product.name, Product.price_sen, Product.created_at, Product.status,
                   Product.category_id, Product.type, Product.state, Product.district, Product.data_format)
            .where(text(f"{SEARCH_VECTOR_SQL} @@ to_tsquery('simple', :tsq)"))
            .limit(SEARCH_CAP).cte("hits").prefix_with("MATERIALIZED"))
    return select(*LISTING_COLUMNS).where(Product.id.in_(filtered(select(hits.c.id), hits.c))) \
        .order_by(*_sort(Product, sort))


def list_products(f: Filters, *, include_unpublished: bool = False) -> Page:
    """One page of products as rows of LISTING_COLUMNS (categories come from `categories()`)."""
    page = max(1, min(int(f.page or 1), MAX_PAGE))
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    # Rows, not ORM objects: a listing only reads these columns (attribute access is the same).
    if f.q and f.q.strip():
        q = select(*LISTING_COLUMNS)
        tsq = _tsquery(f.q)
        if not tsq:  # nothing searchable (only punctuation): nothing matches
            return Page([], 1, False, False)
        if db.engine.dialect.name == "postgresql":
            # Matches come from the GIN index first (a materialised CTE, at most SEARCH_CAP of
            # them, carrying the columns to filter and sort on); the page of ids is picked from
            # them, then only those rows are loaded. Left to itself the planner may walk the
            # name index and test every row: a scan of the whole catalogue for a rare word.
            # (The statement: _build_listing.)
            rows = list(db.session.execute(*_listing(f, include_unpublished, offset, limit, tsq)))
            has_next = len(rows) > PAGE_SIZE
            return Page(rows[:PAGE_SIZE], page, has_next and page < MAX_PAGE, has_next and page >= MAX_PAGE)
        for w in _WORD.findall(f.q)[:8]:
            pat = f"%{like_escape(w)}%"
            q = q.where(or_(*(col.ilike(pat, escape=LIKE_ESCAPE) for col in (Product.name, Product.name_ms,
                                                                   Product.description, Product.description_ms))))
        q = _filtered(q, Product, f, include_unpublished)
        q = q.order_by(*_sort(Product, f.sort)).offset(offset).limit(limit)
        rows = list(db.session.execute(q))
    else:
        rows = list(db.session.execute(*_listing(f, include_unpublished, offset, limit)))
    has_next = len(rows) > PAGE_SIZE
    return Page(rows[:PAGE_SIZE], page, has_next and page < MAX_PAGE, has_next and page >= MAX_PAGE)


FORMATS = ("CSV", "DXF", "GeoJSON", "GeoPackage", "GeoTIFF", "KML", "PDF", "Shapefile", "ZIP")


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    slug: str
    name_ms: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_ms


_category_cache: dict = {}
CATEGORY_CACHE_SECONDS = 30.0


def categories() -> list[CategoryInfo]:
    """All categories (a small table), ordered by English name.

    Every listing page needs them (filter form, card labels, slug -> id), so each worker
    keeps them for CATEGORY_CACHE_SECONDS; a new category shows within that time. Not
    cached under TESTING, where every test starts from an empty database.
    """
    import time

    now = time.monotonic()
    key = str(db.engine.url)
    hit = _category_cache.get(key)
    if hit and hit[0] > now and not current_app.testing:
        return hit[1]
    rows = [CategoryInfo(c.id, c.slug, c.name_ms, c.name_en)
            for c in db.session.execute(select(Category.id, Category.slug, Category.name_ms, Category.name_en)
                                        .order_by(Category.name_en))]
    _category_cache[key] = (now + CATEGORY_CACHE_SECONDS, rows)
    return rows


def facets() -> dict:
    """Choices for the filter form: fixed lists and the (small, cached) categories, never a catalogue scan."""
    cats = categories()
    return {"states": malaysian_states(), "formats": FORMATS, "categories": cats, "by_id": {c.id: c for c in cats}}


def product_by_slug(slug: str, *, include_unpublished: bool = False) -> Product:
    product = db.session.scalar(select(Product).where(Product.slug == slug))
    if product is None or (not include_unpublished and product.status == ProductStatus.DRAFT):
        raise NotFound()
    return product


def published_versions(product: Product) -> list[ProductVersion]:
    return [v for v in product.versions if v.published]


def latest_version(product_id: int) -> ProductVersion | None:
    return db.session.scalar(select(ProductVersion).where(ProductVersion.product_id == product_id,
                                                          ProductVersion.published.is_(True))
                             .order_by(ProductVersion.release_date.desc(), ProductVersion.id.desc()).limit(1))


def newer_versions(version: ProductVersion) -> list[ProductVersion]:
    """Published versions of the same product released after `version`, newest first."""
    return list(db.session.scalars(
        select(ProductVersion).where(ProductVersion.product_id == version.product_id,
                                     ProductVersion.published.is_(True),
                                     or_(ProductVersion.release_date > version.release_date,
                                         (ProductVersion.release_date == version.release_date)
                                         & (ProductVersion.id > version.id)))
        .order_by(ProductVersion.release_date.desc(), ProductVersion.id.desc())))


def newer_versions_of(versions) -> dict[int, list[ProductVersion]]:
    """`newer_versions` for many versions in one query: version id -> its newer versions, newest first."""
    versions = [v for v in versions if v is not None]
    if not versions:
        return {}
    published = list(db.session.scalars(
        select(ProductVersion).where(ProductVersion.product_id.in_(sorted({v.product_id for v in versions})),
                                     ProductVersion.published.is_(True))
        .order_by(ProductVersion.release_date.desc(), ProductVersion.id.desc())))
    by_product: dict[int, list[ProductVersion]] = {}
    for n in published:
        by_product.setdefault(n.product_id, []).append(n)
    return {v.id: [n for n in by_product.get(v.product_id, []) if (n.release_date, n.id) > (v.release_date, v.id)]
            for v in versions}


def upcoming_sessions(product: Product, now: datetime | None = None) -> list[TrainingSession]:
    now = now or utcnow()
    return [s for s in product.sessions if s.starts_at >= now and not s.cancelled]


def counter_offer(now: datetime | None = None) -> list[tuple[Product, TrainingSession | None]]:
    """What a counter sells: published printed products, and the upcoming sessions of published
    training (each with seats left), by name."""
    now = now or utcnow()
    products = db.session.scalars(select(Product).where(
        Product.status == "published",
        or_(Product.type == "printed", (Product.type == "service") & (Product.service_kind == "training")))
        .order_by(Product.name, Product.id)).all()
    offer: list[tuple[Product, TrainingSession | None]] = []
    for p in products:
        if p.type == "printed":
            offer.append((p, None))
        else:
            offer += [(p, s) for s in sorted(upcoming_sessions(p, now), key=lambda s: s.starts_at) if s.seats_left > 0]
    return offer


# -- staff edits --------------------------------------------------------------------

_SLUG = re.compile(r"[^a-z0-9]+")
PRODUCT_FIELDS = ("sku", "name", "name_ms", "description", "description_ms", "type", "service_kind", "category_id",
                  "price_sen", "restricted",
                  "licence_key", "permitted_use", "state", "district", "data_format", "crs",
                  "allowed_extensions", "download_limit", "download_window_days", "stock")


@functools.cache
def malaysian_states() -> tuple[str, ...]:
    """The states and federal territories of Malaysia by their official names (ISO 3166-2:MY)."""
    import pycountry

    return tuple(sorted(s.name for s in pycountry.subdivisions.get(country_code="MY")))


def place_name(value: str | None) -> str:
    """A district or place as the catalogue stores and matches it: 'hulu  langat' -> 'Hulu Langat'."""
    return " ".join(w[:1].upper() + w[1:].lower() for w in (value or "").split())


def slugify(value: str) -> str:
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return _SLUG.sub("-", value).strip("-")[:120] or "product"


_LICENCE_DIRECTORY: list = []  # set once by create_app (ebiz/__init__.py, _wire_domains)
_FILES_SOURCE: list = []  # likewise: delivery's files of product versions


def register_files_source(fn) -> None:
    """Delivery hands the catalogue `fn(version_ids) -> {version id: [file, ...]}` (files are delivery's:
    the catalogue never imports it, which sits above it)."""
    _FILES_SOURCE[:] = [fn]


def files_of_versions(version_ids: list[int]) -> dict:
    """The files of each version (size and checksum), in one query; {} before delivery registered."""
    return _FILES_SOURCE[0](version_ids) if _FILES_SOURCE and version_ids else {}


def register_licence_directory(directory) -> None:
    """Licensing hands the catalogue what it may know of licences (keys() and choices()): the
    catalogue never imports licensing, which sits above it."""
    _LICENCE_DIRECTORY[:] = [directory]


def licence_directory():
    """The licences licensing registered, or None before it has."""
    return _LICENCE_DIRECTORY[0] if _LICENCE_DIRECTORY else None


def known_licence_keys() -> set[str]:
    directory = licence_directory()
    return directory.keys() if directory is not None else set()


def _validate_product(data: dict, product: Product | None) -> None:
    ptype = data.get("type") or (product.type if product else None)
    if ptype not in set(ProductType):
        raise ValidationError(_l("Choose a product type."), field="type")
    if ptype == ProductType.SERVICE and data.get("service_kind") not in set(ServiceKind):
        raise ValidationError(_l("Choose the kind of service."), field="service_kind")
    if ptype != ProductType.SERVICE:
        data["service_kind"] = None
    if data.get("price_sen") is None or int(data["price_sen"]) < 0:
        raise ValidationError(_l("Enter a price of zero or more."), field="price_sen")
    if int(data["price_sen"]) > MAX_PRICE_SEN:
        raise ValidationError(_l("A price may be at most %(max)s.", max=format_sen(MAX_PRICE_SEN)), field="price_sen")
    if product is not None and ptype != product.type and product.status != ProductStatus.DRAFT:
        # Orders, stock held, licences and files were made for what it is: a new kind is a new product.
        raise ValidationError(_l("The type of a product that has been on sale cannot change. Create a new product "
                                 "instead."), field="type")
    data["licence_key"] = (data.get("licence_key") or "").strip() or None
    needs_lic = ptype == ProductType.DIGITAL or data.get("service_kind") == ServiceKind.EXTRACTION
    if needs_lic and not data["licence_key"]:
        raise ValidationError(_l("Digital products and digital services need a licence."), field="licence_key")
    if data["licence_key"] and data["licence_key"] not in known_licence_keys():
        raise ValidationError(_l("There is no licence “%(key)s”. Choose one of the licences in the list.",
                                 key=data["licence_key"]), field="licence_key")
    if ptype == ProductType.PRINTED:
        if data.get("stock") is None or int(data["stock"]) < 0:
            raise ValidationError(_l("Enter the stock (zero or more) of a printed product."), field="stock")
    else:
        data["stock"] = None
    for key in ("download_limit", "download_window_days"):
        if data.get(key) is not None and int(data[key]) < 1:
            raise ValidationError(_l("Must be at least 1."), field=key)
    sku = (data.get("sku") or "").strip()
    if not sku:
        raise ValidationError(_l("Enter a SKU."), field="sku")
    clash = db.session.scalar(select(Product.id).where(Product.sku == sku))
    if clash and (product is None or clash != product.id):
        raise ValidationError(_l("Another product already has this SKU."), field="sku")
    data["sku"] = sku
    if not (data.get("name") or "").strip():
        raise ValidationError(_l("Enter a name."), field="name")
    if "name_ms" in data and not (data.get("name_ms") or "").strip():  # both languages, for a new product too
        raise ValidationError(_l("Enter the name in Bahasa Malaysia."), field="name_ms")
    ext = data.get("allowed_extensions")
    if ext:
        parts = [e.strip().lower() for e in ext.split(",") if e.strip()]
        if any(not re.fullmatch(r"\.[a-z0-9]{1,10}", e) for e in parts):
            raise ValidationError(_l("List extensions like .zip,.gpkg"), field="allowed_extensions")
        data["allowed_extensions"] = ",".join(parts)


def _unique_slug(name: str, product_id: int | None) -> str:
    base = slugify(name)
    slug, n = base, 1
    while True:
        other = db.session.scalar(select(Product.id).where(Product.slug == slug))
        if other is None or other == product_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def save_product(data: dict, *, actor, product_id: int | None = None, ip: str | None = None) -> Product:
    """Create (product_id None) or edit a product; audited. New products start as drafts."""
    product = db.session.get(Product, product_id) if product_id else None
    if product_id and product is None:
        raise NotFound()
    data = {k: v for k, v in data.items() if k in PRODUCT_FIELDS}
    if data.get("state") and data["state"] not in malaysian_states():
        raise ValidationError(_l("Choose a state or federal territory from the list."), field="state")
    if "district" in data:
        data["district"] = place_name(data["district"]) or None
    _validate_product(data, product)
    created = product is None
    if created:
        product = Product(status=ProductStatus.DRAFT, slug=_unique_slug(data["name"], None))
        db.session.add(product)
    changed = {}
    for key, value in data.items():
        if getattr(product, key, None) != value:
            changed[key] = str(value)[:100] if value is not None else None
            setattr(product, key, value)
    db.session.flush()
    record("catalog.product.create" if created else "catalog.product.update", actor=actor, target=product,
           ip=ip, changed=sorted(changed))
    return product


TRANSITIONS = {
    ProductStatus.DRAFT: {ProductStatus.PUBLISHED},
    ProductStatus.PUBLISHED: {ProductStatus.RETIRED},
    ProductStatus.RETIRED: {ProductStatus.PUBLISHED},
}


def set_status(product_id: int, status: str, *, actor, ip: str | None = None) -> Product:
    """Publish or retire; the allowed transitions are TRANSITIONS."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    if status == product.status:
        return product
    if status not in TRANSITIONS.get(ProductStatus(product.status), set()):
        raise Conflict(_l("This product cannot move from %(a)s to %(b)s.", a=product.status, b=status))
    if status == ProductStatus.PUBLISHED and product.type == ProductType.DIGITAL \
            and latest_version(product.id) is None:
        raise Conflict(_l("Add a published version before publishing digital data."))
    if status == ProductStatus.PUBLISHED and product.needs_licence and not product.licence_key:
        raise Conflict(_l("Choose the product's licence before publishing it."))
    old = product.status
    product.status = status
    db.session.flush()
    record("catalog.product.status", actor=actor, target=product, ip=ip, old=old, new=status)
    return product


def add_version(product_id: int, *, label: str, release_date: date, change_notes: str, actor,
                change_notes_ms: str | None = None, published: bool = True, data_format: str | None = None,
                crs: str | None = None,
                coverage: str | None = None, ip: str | None = None) -> ProductVersion:
    """A new release of a product. Its format, CRS and coverage are recorded with it: those
    given, else the product's at this moment (a later edit of the product leaves them)."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    label = (label or "").strip()
    if not label:
        raise ValidationError(_l("Enter a version label."), field="label")
    if db.session.scalar(select(ProductVersion.id).where(ProductVersion.product_id == product_id,
                                                         ProductVersion.label == label)):
        raise ValidationError(_l("This product already has a version with this label."), field="label")
    if release_date is None:
        raise ValidationError(_l("Enter the release date."), field="release_date")
    version = ProductVersion(product_id=product_id, label=label, release_date=release_date,
                             change_notes=change_notes or "", change_notes_ms=change_notes_ms or None,
                             published=published,
                             data_format=(data_format or "").strip() or product.data_format,
                             crs=(crs or "").strip() or product.crs,
                             coverage=(coverage or "").strip() or product.coverage)
    db.session.add(version)
    db.session.flush()
    record("catalog.version.create", actor=actor, target=version, ip=ip, product_id=product_id, label=label)
    return version


def edit_version(version_id: int, *, change_notes: str, published: bool, actor, change_notes_ms: str | None = None,
                 data_format: str | None = None,
                 crs: str | None = None, coverage: str | None = None, ip: str | None = None):
    """Change a version's notes, publication and facts (format, CRS, coverage); audited."""
    version = db.session.get(ProductVersion, version_id)
    if version is None:
        raise NotFound()
    before = {"data_format": version.data_format, "crs": version.crs, "coverage": version.coverage}
    version.change_notes = change_notes or ""
    version.change_notes_ms = change_notes_ms or None
    version.published = published
    version.data_format = (data_format or "").strip() or None
    version.crs = (crs or "").strip() or None
    version.coverage = (coverage or "").strip() or None
    db.session.flush()
    changed = {k: [v, getattr(version, k)] for k, v in before.items() if getattr(version, k) != v}
    record("catalog.version.update", actor=actor, target=version, ip=ip, published=published, **changed)
    return version


def add_session(product_id: int, *, starts_at: datetime, ends_at: datetime, venue: str, online: bool,
                seats_total: int, actor, ip: str | None = None) -> TrainingSession:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    if product.type != ProductType.SERVICE or product.service_kind != ServiceKind.TRAINING:
        raise ValidationError(_l("Only training programmes have sessions."))
    _check_session_details(starts_at, ends_at, venue, seats_total)
    _check_future_start(starts_at)
    s = TrainingSession(product_id=product_id, starts_at=starts_at, ends_at=ends_at, venue=venue.strip(),
                        online=online, seats_total=seats_total, seats_taken=0)
    db.session.add(s)
    db.session.flush()
    record("catalog.session.create", actor=actor, target=s, ip=ip, product_id=product_id)
    return s


def _check_future_start(starts_at) -> None:
    if starts_at <= utcnow():
        raise ValidationError(_l("A session must start in the future."), field="starts_at")


def _check_session_details(starts_at, ends_at, venue: str, seats_total) -> None:
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        raise ValidationError(_l("The session must end after it starts."), field="ends_at")
    if seats_total is None or seats_total < 1:
        raise ValidationError(_l("A session needs at least one seat."), field="seats_total")
    if not (venue or "").strip():
        raise ValidationError(_l("Enter the venue (or 'Online')."), field="venue")


def edit_session(session_id: int, *, starts_at: datetime, ends_at: datetime, venue: str, online: bool,
                 seats_total: int, actor, ip: str | None = None) -> tuple[TrainingSession, list[str]]:
    """Change a scheduled session; returns it and the names of the fields that changed.

    One conditional UPDATE, so a concurrent registration can never leave more seats taken than
    exist: the seats may not drop below those already taken, and a cancelled or started
    session is not changed at all. The registrants are the orders domain's to tell.
    """
    begin_write()
    _check_session_details(starts_at, ends_at, venue, seats_total)
    s = db.session.get(TrainingSession, session_id)
    if s is None:
        raise NotFound()
    before = {"starts_at": s.starts_at, "ends_at": s.ends_at, "venue": s.venue, "online": s.online,
              "seats_total": s.seats_total}
    after = {"starts_at": starts_at, "ends_at": ends_at, "venue": venue.strip(), "online": bool(online),
             "seats_total": seats_total}
    def same(a, b) -> bool:  # times to the minute, as the form shows them
        if isinstance(a, datetime) and isinstance(b, datetime):
            return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)
        return a == b

    changed = [k for k in after if not same(after[k], before[k])]
    if not changed:
        return s, []
    if "starts_at" in changed:
        _check_future_start(starts_at)
    done = db.session.execute(
        update(TrainingSession).where(TrainingSession.id == session_id, TrainingSession.cancelled.is_(False),
                                      TrainingSession.starts_at > utcnow(),
                                      TrainingSession.seats_taken <= seats_total)
        .values(**after).execution_options(synchronize_session=False)).rowcount
    _expire(TrainingSession, session_id)
    if done != 1:
        if s.cancelled:
            raise Conflict(_l("This session has been cancelled: it can no longer be changed."))
        if s.starts_at <= utcnow():
            raise Conflict(_l("This session has already started: it can no longer be changed."))
        raise ValidationError(_l("%(n)d seats are already taken: the session needs at least that many.",
                                 n=s.seats_taken), field="seats_total")
    record("catalog.session.edit", actor=actor, target=s, ip=ip,
           changes={k: [str(before[k]), str(after[k])] for k in changed})
    return s, changed


def cancel_session(session_id: int, *, actor, ip: str | None = None) -> TrainingSession:
    """Flag a session cancelled (no seat can be reserved after this). The orders holding its
    seats are the orders domain's: staff cancel through `orders.service.cancel_training_session`."""
    begin_write()
    done = db.session.execute(
        update(TrainingSession).where(TrainingSession.id == session_id, TrainingSession.cancelled.is_(False))
        .values(cancelled=True).execution_options(synchronize_session=False)).rowcount
    s = db.session.get(TrainingSession, session_id)
    if s is None:
        raise NotFound()
    if done != 1:
        raise Conflict(_l("This session has already been cancelled."))
    _expire(TrainingSession, session_id)
    record("catalog.session.cancel", actor=actor, target=s, ip=ip)
    return s


def known_skus() -> set[str]:
    """Every product code the catalogue has ever had (published or not): what an old order may name."""
    return set(db.session.scalars(select(Product.sku)))


def names_by_sku(skus) -> dict[str, str]:
    """{sku: product name} for the products among `skus` (old orders name products by code)."""
    skus = set(skus)
    if not skus:
        return {}
    return dict(db.session.execute(select(Product.sku, Product.name).where(Product.sku.in_(skus))).all())
