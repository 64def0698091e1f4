"""Factory helpers for tests: `make_user(tier="primary")` and friends."""

import itertools

import pyotp

from ebiz.accounts.models import Kind, Role, Tier, User
from ebiz.accounts.passwords import hash_password
from ebiz.extensions import db

PASSWORD = "Correct-Horse-Battery-9"
_seq = itertools.count(1)
_HASH_CACHE: dict[str, str] = {}


def _hash(password: str) -> str:
    # Argon2 is slow on purpose; tests reuse one hash per password.
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = hash_password(password)
    return _HASH_CACHE[password]


def mykad_for(n: int) -> str:
    """A valid MyKad number: born 1 Jan 1990, place code 14 (Kuala Lumpur), serial n."""
    return f"90010114{n % 10000:04d}"


def make_user(*, tier: str = Tier.REGULAR, role: str = Role.CUSTOMER, kind: str = Kind.INDIVIDUAL,
              password: str = PASSWORD, counter=None, mfa: bool | None = None, commit: bool = True,
              **fields) -> User:
    n = next(_seq)
    data = dict(email=f"user{n}@example.my", full_name=f"Test User {n}")
    if kind == Kind.INDIVIDUAL:
        data["mykad"] = mykad_for(n)
    elif kind == Kind.FOREIGNER:
        data.update(passport_no=f"P{n:08d}", nationality="SG")
    else:
        data.update(company_reg_no=f"2019010{n:05d}", company_name=f"Syarikat {n} Sdn. Bhd.",
                    rep_mykad=mykad_for(n))
    data.update(fields)
    is_staff = role != Role.CUSTOMER
    user = User(tier=tier, role=role, kind=kind, password_hash=_hash(password),
                counter_id=getattr(counter, "id", counter), **data)
    if mfa if mfa is not None else is_staff:
        user.totp_secret = pyotp.random_base32()
        user.mfa_enabled = True
    db.session.add(user)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return user


def make_counter(code: str = "HQ", *, is_hq: bool | None = None, commit: bool = True):
    from ebiz.counters.models import Counter

    counter = Counter(code=code, name=f"Kaunter {code}", state="Selangor",
                      is_hq=(code == "HQ") if is_hq is None else is_hq)
    db.session.add(counter)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return counter


# --- accounts: CSRF tokens and signing in through the real pages -----------------------------

def csrf_from(html: bytes | str) -> str:
    """The CSRF token of the first form in a page."""
    import re

    text = html.decode() if isinstance(html, bytes) else html
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text)
    assert m, "no csrf_token in the page"
    return m.group(1)


def totp_code(user: User) -> str:
    """A TOTP code for `user` that has not been used yet (the next time step when this one was)."""
    from datetime import UTC, datetime

    totp = pyotp.TOTP(user.totp_secret)
    step = totp.timecode(datetime.now(UTC))
    db.session.refresh(user)
    if user.totp_last_step is not None and user.totp_last_step >= step:
        step = user.totp_last_step + 1
    return totp.generate_otp(step)


def sign_in(client, user: User, password: str = PASSWORD, *, login: str | None = None):
    """Sign in through /account/login (and the TOTP step when enrolled); returns the last response."""
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login or user.email,
                                             "password": password})
    if r.status_code == 302 and r.headers["Location"].endswith("/account/login/code"):
        page = client.get("/account/login/code")
        r = client.post("/account/login/code", data={"csrf_token": csrf_from(page.data), "code": totp_code(user)})
    assert r.status_code == 302, r.data[:2000]
    return r


# --- catalogue and delivery -------------------------------------------------------------------

def make_product(*, type: str = "digital", status: str = "published", commit: bool = True, version: bool = True,
                 **fields):
    """A product (digital data with one published version by default); returns the Product."""
    from datetime import date

    from ebiz.catalog.models import Product, ProductVersion

    n = next(_seq)
    data = dict(sku=f"SKU-{n}", slug=f"product-{n}", name=f"Product {n}", description="Survey data",
                price_sen=5000, type=type, status=status)
    if type == "digital":
        data.update(licence_key="standard-digital-data", permitted_use="Internal use", data_format="GeoJSON",
                    state="Selangor", district="Petaling")
    elif type == "printed":
        data.update(stock=5)
    elif type == "service":
        data.setdefault("service_kind", fields.get("service_kind", "training"))
        if fields.get("service_kind") == "extraction":
            data.update(licence_key="on-demand-service", permitted_use="Project use")
    data.update(fields)
    data.setdefault("name_ms", data["name"])  # a product has its name in both languages
    product = Product(**data)
    db.session.add(product)
    db.session.flush()
    if version and type == "digital":
        db.session.add(ProductVersion(product_id=product.id, label="2026.1", release_date=date(2026, 1, 15),
                                      change_notes="First release", published=True))
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return product


def make_grant(user, product, *, version=None, order_line_id=None, commit: bool = True):
    """A licence grant as the orders domain would issue it for a paid line."""
    from ebiz.licensing.models import LicenceGrant
    from ebiz.refs import new_reference

    if version is None and product.versions:
        version = product.versions[0]
    grant = LicenceGrant(number=new_reference("LIC"), user_id=user.id, product_id=product.id,
                         version_id=getattr(version, "id", version), order_line_id=order_line_id,
                         licence_key=product.licence_key or "standard-digital-data", licence_version="1.0",
                         text_sha256="0" * 64, permitted_use=product.permitted_use or "Internal use")
    db.session.add(grant)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return grant


def login_session(client, user, *, mfa: bool = True) -> None:
    """Sign `user` in by writing the session cookie directly (fast; the sign-in pages have their own tests)."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        if mfa and user.is_staff:
            sess["mfa_ok"] = user.get_id()
