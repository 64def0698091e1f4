"""Signed download links: issuing them, reading them, opening them (the download itself).

Invariants:
- A download link is a `download`-purpose token (ebiz.tokens) naming a `DownloadLink` row, bound
  to the customer, the entitlement and the file, valid DOWNLOAD_LINK_MAX_AGE seconds. Its first
  use consumes one download with a conditional UPDATE (never past the allowance, even when
  requests race); later requests on it (Range/resume) do not. Every use needs the grant still
  active and the download window still open.
- Every link issued and every download request served is recorded (DownloadLink, DownloadEvent).
"""

from __future__ import annotations

import re
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text, update

from ..clock import utcnow
from ..db import begin_write
from ..errors import EbizError, NotFound
from ..extensions import db
from ..licensing.models import LicenceGrant
from ..tokens import TokenExpired, TokenInvalid, make_token, peek_token, read_token
from .entitlements import refusal
from .models import DownloadEvent, DownloadLink, Entitlement, ProductFile
from .storage import get_storage

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
