"""Delivery rules: storing product files, entitlements, signed download links.

Invariants:
- Bytes reach storage only through `store_file` (staff uploads, service
  deliverables, the demo seed): the file type is checked against the
  product's allowed extensions before anything is written, the size limit
  (UPLOAD_MAX_BYTES) while streaming; on refusal nothing is stored.
- One `Entitlement` per licence grant (`grant_entitlement` is idempotent):
  `downloads_allowed` = the product's download_limit, usable for
  download_window_days from the grant.
- A download link is a `download`-purpose token (ebiz.tokens) naming a
  `DownloadLink` row, bound to the customer, the entitlement and the file,
  valid DOWNLOAD_LINK_MAX_AGE seconds. Its first use consumes one download
  with a conditional UPDATE (never past the allowance, even when requests
  race); later requests on it (Range/resume) do not. Every use needs the
  grant still active and the download window still open.
- Every link issued and every download request served is recorded
  (DownloadLink, DownloadEvent); staff changes to an allowance are audited
  with their reason.
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..audit.service import record
from ..catalog.models import Product, ProductVersion
from ..catalog.service import latest_version, newer_versions_of
from ..clock import utcnow
from ..db import begin_write
from ..errors import EbizError, NotFound, ValidationError
from ..extensions import db
from ..licensing.models import LicenceGrant
from ..refs import new_reference
from ..tokens import TokenExpired, TokenInvalid, make_token, peek_token, read_token
from .models import DownloadEvent, DownloadLink, Entitlement, ProductFile
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


# -- links ----------------------------------------------------------------------------------

class LinkRefused(EbizError):
    """A download link that cannot be served; `kind` says why (for the page), `offer` whether to re-issue."""

    MESSAGES = {
        "tampered": (403, _l("This download link is not valid: it has been altered or is incomplete.")),
        "expired": (410, _l("This download link has expired. Download links work for a short time only.")),
        "foreign": (403, _l("This download link was issued to another customer.")),
        "exhausted": (410, _l("You have used all the downloads this purchase allows.")),
        "window": (410, _l("The download period of this purchase has ended.")),
        "revoked": (403, _l("The licence for this product is no longer valid.")),
        "missing": (410, _l("This file is no longer available.")),
    }

    def __init__(self, kind: str, *, entitlement: Entitlement | None = None, file: ProductFile | None = None):
        self.kind = kind
        self.status, message = self.MESSAGES[kind]
        self.code = f"link-{kind}"
        self.entitlement = entitlement
        self.file = file
        super().__init__(message)


def _link_target(user_id: int, entitlement_ref: str, file_ref: str):
    """(entitlement, grant, file) owned by the user, or NotFound (never says whose it is)."""
    row = db.session.execute(
        select(Entitlement, LicenceGrant, ProductFile)
        .join(LicenceGrant, LicenceGrant.id == Entitlement.grant_id)
        .join(ProductFile, ProductFile.ref == file_ref)
        .where(Entitlement.ref == entitlement_ref, Entitlement.user_id == user_id)).first()
    if row is None:
        raise NotFound()
    ent, grant, pf = row
    if pf.removed_at is not None or not (
            (ent.version_id is not None and pf.version_id == ent.version_id)
            or (ent.order_line_id is not None and pf.order_line_id == ent.order_line_id)):
        raise NotFound()
    return ent, grant, pf


# The hot path of "Download": one statement that writes the link only when every rule holds
# (the session's user still active and on the same session_version, owner, file of the
# entitlement, licence active, window open, downloads left). Plain SQL: this runs on every
# click and at the benchmark's rate, so it skips statement building. The commit is an
# ordinary durable one (the link record is the customer's download history).
_ISSUE_SQL = """
INSERT INTO download_link (nonce, user_id, entitlement_id, file_id, issued_at, issued_ip)
SELECT :nonce, e.user_id, e.id, f.id, :now, :ip
FROM entitlement e
JOIN user_account u ON u.id = e.user_id
JOIN licence_grant g ON g.id = e.grant_id
JOIN product_file f ON f.ref = :file_ref
WHERE e.ref = :ent_ref AND e.user_id = :uid AND u.session_version = :ver AND u.active
  AND f.removed_at IS NULL AND (f.version_id = e.version_id OR f.order_line_id = e.order_line_id)
  AND g.status = 'active' AND (g.valid_until IS NULL OR g.valid_until > :now)
  AND e.expires_at > :now AND e.downloads_used < e.downloads_allowed
RETURNING entitlement_id, file_id
"""
_ISSUE = text(_ISSUE_SQL)
# The same statement in psycopg's own placeholders, for the PostgreSQL hot path that sends it on
# the pooled driver connection directly (SQLAlchemy's Connection and result objects cost about
# as much client CPU as the round trip itself).
_ISSUE_PSYCOPG = re.sub(r":(\w+)", r"%(\1)s", _ISSUE_SQL)


def _issue_autocommit(params: dict):
    """Run the issue statement as a transaction of its own (autocommit: committed, durably, when it returns)."""
    pooled = db.engine.raw_connection()  # the pool's connection; returned (and reset) by close()
    try:
        conn = pooled.driver_connection
        conn.autocommit = True
        try:
            return conn.execute(_ISSUE_PSYCOPG, params).fetchone()
        finally:
            conn.autocommit = False
    finally:
        pooled.close()


def try_issue_link(user_id: int, session_version: int, entitlement_ref: str, file_ref: str, *,
                   ip: str | None = None, own_commit: bool = False) -> str | None:
    """Record a link and return its token, or None when any rule fails (nothing written).

    `user_id`/`session_version` are those of the sign-in (User.get_id()); the statement checks
    them against the account itself, so a disabled account or a signed-out-everywhere session
    gets nothing. The caller finds out why with `issue_link` (the full path).

    own_commit=True (PostgreSQL only; the view's hot path, which has nothing else to commit):
    the one statement runs on an autocommit connection of the pool, i.e. it is its own
    transaction and is committed, durably (synchronous_commit as configured, on by default),
    when it returns: one round trip, no BEGIN/COMMIT. Otherwise it joins the session's
    transaction like any service.
    """
    nonce = secrets.token_hex(16)
    params = {"nonce": nonce, "now": utcnow(), "ip": ip, "file_ref": file_ref, "ent_ref": entitlement_ref,
              "uid": user_id, "ver": session_version}
    if own_commit:
        row = _issue_autocommit(params)
    else:
        begin_write()
        row = db.session.execute(_ISSUE, params).first()
    if row is None:
        return None
    return make_token("download", {"k": nonce, "u": user_id, "e": row[0], "f": row[1]})


def issue_link(user, entitlement_ref: str, file_ref: str, *, ip: str | None = None) -> str:
    """Record a link and return its token (the view builds the URL); LinkRefused/NotFound say why not."""
    token = try_issue_link(user.id, user.session_version, entitlement_ref, file_ref, ip=ip)
    if token is None:
        ent, grant, pf = _link_target(user.id, entitlement_ref, file_ref)  # NotFound when not theirs
        raise LinkRefused(refusal(ent, grant) or "missing", entitlement=ent, file=pf)
    return token


def peek_link(token: str) -> dict | None:
    """The unverified payload of a (possibly expired or altered) token, to offer a fresh link.

    Never trusted: the caller checks that the signed-in user owns what it names.
    """
    return peek_token("download", token)


def offer_for(user, token: str) -> tuple[Entitlement, ProductFile] | None:
    """For a refused link: the entitlement and file to re-issue, when this user still may download them."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    payload = peek_link(token) or {}
    ent_id, file_id = payload.get("e"), payload.get("f")
    if not isinstance(ent_id, int) or not isinstance(file_id, int):
        return None
    ent = db.session.get(Entitlement, ent_id)
    pf = db.session.get(ProductFile, file_id)
    if ent is None or pf is None or ent.user_id != user.id:
        return None
    try:
        ent, grant, pf = _link_target(user.id, ent.ref, pf.ref)
    except NotFound:
        return None
    if refusal(ent, grant):
        return None
    return ent, pf


def open_link(token: str, *, user_id: int | None, ip: str | None, range_header: str | None):
    """Check a link and record the request; returns the ProductFile to serve, or raises LinkRefused."""
    begin_write()
    try:
        payload = read_token("download", token)
    except TokenExpired:
        raise LinkRefused("expired") from None
    except TokenInvalid:
        raise LinkRefused("tampered") from None
    if user_id is not None and payload.get("u") != user_id:
        raise LinkRefused("foreign")
    row = db.session.execute(  # the link with what it names, in one statement
        select(DownloadLink, Entitlement, LicenceGrant, ProductFile)
        .join(Entitlement, Entitlement.id == DownloadLink.entitlement_id)
        .join(LicenceGrant, LicenceGrant.id == Entitlement.grant_id)
        .join(ProductFile, ProductFile.id == DownloadLink.file_id)
        .where(DownloadLink.nonce == payload.get("k"))).one_or_none()
    if row is None:
        raise LinkRefused("tampered")
    link, ent, grant, pf = row
    if (link.user_id, link.entitlement_id, link.file_id) != (payload.get("u"), payload.get("e"), payload.get("f")):
        raise LinkRefused("tampered")
    if pf.removed_at is not None:
        raise LinkRefused("missing", entitlement=ent, file=pf)
    now = utcnow()
    why = refusal(ent, grant, now, need_remaining=False)
    if why:
        raise LinkRefused(why, entitlement=ent, file=pf)
    counted = False
    first = db.session.execute(update(DownloadLink).where(DownloadLink.id == link.id,
                                                          DownloadLink.first_used_at.is_(None))
                               .values(first_used_at=now).execution_options(synchronize_session=False)).rowcount
    if first == 1:
        took = db.session.execute(
            update(Entitlement).where(Entitlement.id == ent.id,
                                      Entitlement.downloads_used < Entitlement.downloads_allowed,
                                      Entitlement.expires_at > now)
            .values(downloads_used=Entitlement.downloads_used + 1)
            .execution_options(synchronize_session=False)).rowcount
        if took != 1:
            raise LinkRefused("exhausted", entitlement=ent, file=pf)
        counted = True
    db.session.add(DownloadEvent(link_id=link.id, user_id=link.user_id, entitlement_id=ent.id, file_id=pf.id,
                                 ip=ip, range_header=(range_header or None) and range_header[:100],
                                 counted=counted, backend=get_storage().name))
    db.session.flush()
    return pf


def serve_file(pf: ProductFile):
    """The response delivering the file (send_file locally, a presigned redirect on S3)."""
    return get_storage().serve(pf.storage_key, filename=pf.filename, content_type=pf.content_type)


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
