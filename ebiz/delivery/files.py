"""Product files: storing, removing and listing them, checking storage, serving the bytes.

Invariants:
- Bytes reach storage only through `store_file` (staff uploads, service deliverables, the demo
  seed): the file type is checked against the product's allowed extensions before anything is
  written, the size limit (UPLOAD_MAX_BYTES) while streaming; on refusal nothing is stored.
- A removed file stays on record (`removed_at`) and is no longer listed or delivered.
"""

from __future__ import annotations

import mimetypes
import os
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..audit.service import record
from ..catalog.models import Product, ProductVersion
from ..clock import utcnow
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..refs import new_reference
from .models import ProductFile
from .storage import StorageError, get_storage

DEFAULT_EXTENSIONS = (".zip", ".gpkg", ".geojson", ".json", ".csv", ".tif", ".tiff", ".pdf", ".kml", ".kmz",
                      ".dxf", ".shp", ".xml", ".txt", ".las", ".laz", ".ecw", ".jp2")


# -- files -----------------------------------------------------------------------------

def clean_filename(filename: str) -> str:
    """The name shown and sent in Content-Disposition: last path part, printable, bounded."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name[:200]


def allowed_extensions(product: Product) -> tuple[str, ...]:
    if product.allowed_extensions:
        return tuple(e.strip().lower() for e in product.allowed_extensions.split(",") if e.strip())
    return DEFAULT_EXTENSIONS


def _check_type(product: Product, filename: str) -> None:
    ext = os.path.splitext(filename)[1].lower()
    allowed = allowed_extensions(product)
    if ext not in allowed:
        raise ValidationError(_l("Files of type %(ext)s are not accepted for this product. Allowed: %(allowed)s.",
                                 ext=ext or "(none)", allowed=", ".join(allowed)), field="file")


def store_file(product_id: int, src: BinaryIO, filename: str, *, actor, version_id: int | None = None,
               order_line_id: int | None = None, ip: str | None = None) -> ProductFile:
    """Stream a file into storage and record it; refused files leave nothing behind."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    if (version_id is None) == (order_line_id is None):
        raise ValidationError(_l("A file belongs to a version or to an order line."))
    if version_id is not None:
        version = db.session.get(ProductVersion, version_id)
        if version is None or version.product_id != product_id:
            raise NotFound()
    name = clean_filename(filename)
    if not name:
        raise ValidationError(_l("Choose a file to upload."), field="file")
    _check_type(product, name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    storage = get_storage()
    stored = storage.put(src, max_bytes=int(current_app.config["UPLOAD_MAX_BYTES"]), content_type=content_type)
    if stored.size == 0:
        storage.delete(stored.key)
        raise ValidationError(_l("The file is empty."), field="file")
    try:
        pf = ProductFile(ref=new_reference("FIL"), product_id=product_id, version_id=version_id,
                         order_line_id=order_line_id, storage_key=stored.key, filename=name, size=stored.size,
                         sha256=stored.sha256, content_type=content_type,
                         uploaded_by=getattr(actor, "id", actor))
        db.session.add(pf)
        db.session.flush()
        record("delivery.file.store", actor=actor, target=pf, ip=ip, product_id=product_id, version_id=version_id,
               order_line_id=order_line_id, filename=name, size=stored.size, sha256=stored.sha256)
    except BaseException:
        storage.delete(stored.key)  # the record failed: do not leave an orphan object
        raise
    return pf


def remove_file(file_id: int, *, actor, ip: str | None = None) -> ProductFile:
    """Withdraw a file from sale (the object stays for audit; links stop working)."""
    pf = db.session.get(ProductFile, file_id)
    if pf is None:
        raise NotFound()
    if pf.removed_at is None:
        pf.removed_at = utcnow()
        record("delivery.file.remove", actor=actor, target=pf, ip=ip)
    return pf


def files_of_version(version_id: int, *, include_removed: bool = False) -> list[ProductFile]:
    q = select(ProductFile).where(ProductFile.version_id == version_id)
    if not include_removed:
        q = q.where(ProductFile.removed_at.is_(None))
    return list(db.session.scalars(q.order_by(ProductFile.id)))


def files_of_versions(version_ids) -> dict[int, list[ProductFile]]:
    """`files_of_version` for many versions in one query: version id -> its files (not removed)."""
    ids = sorted({v for v in version_ids if v is not None})
    out: dict[int, list[ProductFile]] = {v: [] for v in ids}
    if ids:
        for pf in db.session.scalars(select(ProductFile).where(ProductFile.version_id.in_(ids),
                                                               ProductFile.removed_at.is_(None))
                                     .order_by(ProductFile.id)):
            out[pf.version_id].append(pf)
    return out


def verify_files() -> list[str]:
    """Problems with stored files: missing objects, wrong size or checksum. Empty when all is well."""
    storage = get_storage()
    problems = []
    for pf in db.session.scalars(select(ProductFile).order_by(ProductFile.id)):
        try:
            size = storage.stat(pf.storage_key)
            if size != pf.size:
                problems.append(f"{pf.ref} {pf.filename}: size {size} != recorded {pf.size}")
                continue
            digest = storage.sha256(pf.storage_key)
            if digest != pf.sha256:
                problems.append(f"{pf.ref} {pf.filename}: sha256 {digest} != recorded {pf.sha256}")
        except StorageError as exc:
            problems.append(f"{pf.ref} {pf.filename}: {exc}")
    return problems



def serve_file(pf: ProductFile):
    """The response delivering the file (send_file locally, a presigned redirect on S3)."""
    return get_storage().serve(pf.storage_key, filename=pf.filename, content_type=pf.content_type)
