"""Listing and search, categories and facets, and what a product page reads (versions, sessions,
the counter's offer).

Invariants:
- Listing and search read at most one page (+1 row) through an index; the offset is bounded
  (MAX_PAGE) and no COUNT(*) runs over the catalogue.
- Only published products (and published versions) are shown unless staff ask for unpublished.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import Integer, bindparam, or_, select, text

from ..clock import utcnow
from ..db import LIKE_ESCAPE, like_escape
from ..errors import NotFound
from ..extensions import db
from .models import (
    SEARCH_VECTOR_SQL,
    Category,
    Product,
    ProductStatus,
    ProductType,
    ProductVersion,
    TrainingSession,
)

PAGE_SIZE = 24
MAX_PAGE = 200  # deeper pages: narrow the filters or search (bounded offset, never a scan)
SEARCH_CAP = 5000  # a search considers at most this many matches (PostgreSQL); refine beyond that


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


@functools.cache
def malaysian_states() -> tuple[str, ...]:
    """The states and federal territories of Malaysia by their official names (ISO 3166-2:MY)."""
    import pycountry

    return tuple(sorted(s.name for s in pycountry.subdivisions.get(country_code="MY")))


def place_name(value: str | None) -> str:
    """A district or place as the catalogue stores and matches it: 'hulu  langat' -> 'Hulu Langat'."""
    return " ".join(w[:1].upper() + w[1:].lower() for w in (value or "").split())
