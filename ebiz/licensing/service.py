"""Licence texts, click-through acceptance, grants and public verification.

Invariants:
- A licence type is a Markdown file `licenses/<key>.md` with front matter
  (key, version, titles, validity). Its SHA-256 is taken over the exact bytes
  of the file; an acceptance records that hash, so what a customer accepted
  can always be shown again and proven unchanged.
- An acceptance is refused when the hash the customer was shown is not the
  hash of the current text (the file changed under them).
- `issue_grant` is idempotent per order line (unique `order_line_id`): a
  second call returns the first grant.
- Grants are never deleted; `revoke` sets status, time and reason and is audited.
- `public_status` exposes no personal data: only a masked licensee name.
"""

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import markdown
import segno
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..audit.service import record
from ..catalog.models import Product, ProductVersion
from ..clock import utcnow
from ..db import begin_write
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..refs import new_reference
from .models import LicenceAcceptance, LicenceGrant

LICENCE_DIR = Path(__file__).resolve().parent.parent.parent / "licenses"
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


@dataclass(frozen=True)
class Licence:
    key: str
    version: str
    title_ms: str
    title_en: str
    valid_years: int
    text: str  # the whole file, front matter included: what the hash covers
    body: str  # the Markdown after the front matter
    sha256: str

    def title(self, locale: str | None = None) -> str:
        return self.title_en if str(locale) == "en" else self.title_ms

    @property
    def html(self) -> str:
        return markdown.markdown(self.body)

    def valid_until(self, start: datetime) -> datetime | None:
        if not self.valid_years:
            return None
        try:
            return start.replace(year=start.year + self.valid_years)
        except ValueError:  # 29 February
            return start.replace(year=start.year + self.valid_years, day=28)


def _parse(key: str, raw: bytes) -> Licence:
    text = raw.decode("utf-8")
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        head, sep, rest = text[4:].partition("\n---\n")
        if sep:
            body = rest
            for line in head.splitlines():
                name, colon, value = line.partition(":")
                if colon:
                    meta[name.strip()] = value.strip()
    if meta.get("key", key) != key or "version" not in meta:
        raise ValueError(f"licence file {key}.md: front matter needs key={key} and a version")
    return Licence(key=key, version=meta["version"], title_ms=meta.get("title_ms", key),
                   title_en=meta.get("title_en", meta.get("title_ms", key)),
                   valid_years=int(meta.get("valid_years", "0") or 0), text=text, body=body,
                   sha256=hashlib.sha256(raw).hexdigest())


@lru_cache(maxsize=64)
def _load_cached(key: str, mtime_ns: int) -> Licence:
    return _parse(key, (LICENCE_DIR / f"{key}.md").read_bytes())


def get_licence(key: str | None) -> Licence:
    """The current text of licence type `key` (re-read when the file changes)."""
    if not key or not _KEY_RE.match(key):
        raise NotFound(_l("This licence does not exist."))
    path = LICENCE_DIR / f"{key}.md"
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NotFound(_l("This licence does not exist.")) from None
    return _load_cached(key, mtime)


def list_licences() -> list[Licence]:
    return [get_licence(p.stem) for p in sorted(LICENCE_DIR.glob("*.md"))]


def licence_title(key: str | None, locale=None) -> str:
    """The title of licence `key` in `locale` (the current language when None); the key itself
    when no such licence exists any more, so a page never breaks over a removed file."""
    if not key:
        return ""
    try:
        lic = get_licence(key)
    except NotFound:
        return key
    return lic.title(locale if locale is not None else get_locale())


class LicenceDirectory:
    """What the domains below licensing (catalog) may know of licences without importing it.

    create_app registers one with the catalogue (`catalog.service.register_licence_directory`).
    """

    def keys(self) -> set[str]:
        return {lic.key for lic in list_licences()}

    def choices(self, locale=None) -> list[tuple[str, str]]:
        """(key, title) of every licence, by title in `locale` (the current language when None)."""
        locale = locale if locale is not None else get_locale()
        return sorted(((lic.key, lic.title(locale)) for lic in list_licences()), key=lambda c: c[1].lower())


def accept(user, product, *, sha256_shown: str | None, ip: str | None, user_agent: str | None,
           licence_key: str | None = None) -> LicenceAcceptance:
    """Record that `user` accepted the licence of `product`, as shown to them."""
    lic = get_licence(licence_key or product.licence_key)
    if sha256_shown != lic.sha256:
        raise ValidationError(
            _l("The licence text changed while you were reading it. Please read it again and accept."),
            field="licence",
        )
    acc = LicenceAcceptance(user_id=user.id, product_id=product.id, licence_key=lic.key,
                            licence_version=lic.version, text_sha256=lic.sha256, accepted_at=utcnow(),
                            ip=(ip or "")[:45] or None, user_agent=(user_agent or "")[:300] or None)
    db.session.add(acc)
    db.session.flush()
    return acc


def issue_grant(*, user_id: int, product, version_id: int | None, order_line_id: int | None,
                acceptance: LicenceAcceptance | None, permitted_use: str | None = None,
                start: datetime | None = None, application_ref: str | None = None,
                conditions: str | None = None) -> LicenceGrant:
    """Issue the licence grant of a paid line (once per line); restricted data names the approved
    application it was bought under and carries the approval's conditions."""
    if order_line_id is not None:
        existing = db.session.scalar(select(LicenceGrant).where(LicenceGrant.order_line_id == order_line_id))
        if existing is not None:
            return existing
    key = acceptance.licence_key if acceptance else product.licence_key
    try:
        lic = get_licence(key)
    except NotFound:
        # Called when money has arrived: a licence file removed since checkout must not refuse the
        # payment. The acceptance still proves the exact text (key, version, hash).
        if acceptance is None:
            raise
        lic = None
    start = start or utcnow()
    grant = LicenceGrant(
        number=new_reference("LIC"), user_id=user_id, product_id=product.id, version_id=version_id,
        order_line_id=order_line_id, acceptance_id=acceptance.id if acceptance else None,
        licence_key=key,
        licence_version=acceptance.licence_version if acceptance else lic.version,
        text_sha256=acceptance.text_sha256 if acceptance else lic.sha256,
        permitted_use=permitted_use or product.permitted_use or (lic.title_en if lic else key),
        valid_from=start, valid_until=lic.valid_until(start) if lic else None, status="active",
        application_ref=application_ref, conditions=conditions or None,
    )
    db.session.add(grant)
    db.session.flush()
    record("licence.grant", actor=user_id, target=grant, number=grant.number, product_id=product.id)
    return grant


def revoke(grant: LicenceGrant, *, actor, reason: str, ip: str | None = None) -> LicenceGrant:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_l("Give the reason for revoking this licence."), field="reason")
    begin_write()
    done = db.session.execute(  # conditional: of two revocations at once, one revokes, the other is told
        update(LicenceGrant).where(LicenceGrant.id == grant.id, LicenceGrant.status != "revoked")
        .values(status="revoked", revoked_at=utcnow(), revoked_reason=reason[:300])
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(grant)
    if done != 1:
        raise Conflict(_l("This licence is already revoked."))
    record("licence.revoke", actor=actor, target=grant, ip=ip, number=grant.number, reason=reason[:300])
    return grant


def grant_by_number(number: str) -> LicenceGrant | None:
    return db.session.scalar(select(LicenceGrant).where(LicenceGrant.number == (number or "").strip().upper()))


def grant_for_owner(number: str, user) -> LicenceGrant:
    """The grant, when `user` holds it or is staff; NotFound otherwise (no hint that it exists)."""
    grant = grant_by_number(number)
    if grant is None or not (grant.user_id == user.id or user.is_staff):
        raise NotFound()
    return grant


def grants_of(user_id: int) -> list[LicenceGrant]:
    return list(db.session.scalars(
        select(LicenceGrant).where(LicenceGrant.user_id == user_id).order_by(LicenceGrant.id.desc())))


def products_of(grants) -> dict[int, Product]:
    """The products some grants are for, by id, in one query (the My licences page)."""
    ids = {g.product_id for g in grants}
    return {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))} if ids else {}


def subject_of(grant: LicenceGrant) -> tuple[Product | None, ProductVersion | None]:
    """The product and version a grant licenses (the certificate and the public check show them)."""
    product = db.session.get(Product, grant.product_id)
    version = db.session.get(ProductVersion, grant.version_id) if grant.version_id else None
    return product, version


def grant_state(grant: LicenceGrant, now: datetime | None = None) -> str:
    """'valid', 'revoked', 'expired' or 'not-yet-valid'."""
    now = now or utcnow()
    if grant.status == "revoked":
        return "revoked"
    if grant.valid_from and now < grant.valid_from:
        return "not-yet-valid"
    if grant.valid_until and now >= grant.valid_until:
        return "expired"
    return "valid"


def mask_name(name: str | None) -> str:
    """'Siti Aminah binti Ali' -> 'S*** A***** b**** A**': recognisable to its holder, useless to others."""
    words = (name or "").split()
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words) or "—"


def public_status(number: str) -> dict | None:
    """What /verify/<number> may show: no email, no identity number, a masked name."""
    grant = grant_by_number(number)
    if grant is None:
        return None
    product, version = subject_of(grant)
    lic = None
    try:
        lic = get_licence(grant.licence_key)
    except NotFound:
        lic = None
    return {
        "number": grant.number, "state": grant_state(grant),
        "licensee": mask_name(grant.user.display_name if grant.user else ""),
        "product": product.name if product else "", "version": version.label if version else "",
        "licence_title_ms": lic.title_ms if lic else grant.licence_key,
        "licence_title_en": lic.title_en if lic else grant.licence_key,
        "licence_version": grant.licence_version, "valid_from": grant.valid_from,
        "valid_until": grant.valid_until, "revoked_at": grant.revoked_at,
        "application_ref": grant.application_ref, "conditions": grant.conditions,
    }


def verify_url(number: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{number}"


def qr_svg_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def qr_png(url: str) -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=6, border=2)
    return buf.getvalue()
