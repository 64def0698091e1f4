"""Staff edits: products, their status, versions and training sessions; and what other domains
register with the catalogue (licences, files), so that it never imports them.

Invariants:
- Staff edits (create, edit, publish, retire) are validated first (nothing is written on refusal)
  and write an audit event in the same transaction.
- Status changes follow `TRANSITIONS` only. Catalogue code never touches storage.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..audit.service import record
from ..clock import utcnow
from ..db import begin_write
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..money import format_sen
from .inventory import _expire
from .models import (
    Product,
    ProductStatus,
    ProductType,
    ProductVersion,
    ServiceKind,
    TrainingSession,
)
from .search import latest_version, malaysian_states, place_name

MAX_PRICE_SEN = 100_000_000  # RM 1 million a unit; a product's price is INTEGER sen


# -- staff edits --------------------------------------------------------------------

_SLUG = re.compile(r"[^a-z0-9]+")
PRODUCT_FIELDS = ("sku", "name", "name_ms", "description", "description_ms", "type", "service_kind", "category_id",
                  "price_sen", "restricted",
                  "licence_key", "permitted_use", "state", "district", "data_format", "crs",
                  "allowed_extensions", "download_limit", "download_window_days", "stock")




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
