"""Staff edits of products and versions over HTTP, the demo catalogue, and why a visitor may not buy."""

import hashlib
import html as htmllib
import re

from flask_babel import force_locale
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.catalog import service
from ebiz.catalog.models import Product, ProductVersion, TrainingSession
from ebiz.clock import utcnow
from ebiz.extensions import db
from tests.factories import csrf_from, login_session, make_product, make_user


def _audits(action: str, *where) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action, *where)))


def _edit_data(p: Product, **over) -> dict:
    """What the edit form posts for `p` unchanged (the fields a digital product shows)."""
    data = {"sku": p.sku, "name": p.name, "name_ms": p.name_ms or p.name, "description": p.description or "",
            "type": p.type,
            "service_kind": p.service_kind or "", "category_id": "", "price": f"{p.price_sen / 100:.2f}",
            "licence_key": p.licence_key or "", "permitted_use": p.permitted_use or "", "state": p.state or "",
            "district": p.district or "", "data_format": p.data_format or "", "crs": p.crs or "",
            "allowed_extensions": p.allowed_extensions or "", "download_limit": str(p.download_limit),
            "download_window_days": str(p.download_window_days)}
    data.update(over)
    return data


# -- 1. editing a product ------------------------------------------------------------------------

def test_admin_edits_a_product_and_the_change_is_saved_and_audited(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product(name="Cadastral parcels Klang", price_sen=5000)
    login_session(client, admin)
    client.set_cookie("lang", "en")
    page = client.get(f"/catalog/admin/{p.id}")
    assert page.status_code == 200 and 'value="50.00"' in page.get_data(as_text=True)
    r = client.post(f"/catalog/admin/{p.id}", data=_edit_data(p, csrf_token=csrf_from(page.data),
                                                             name="Cadastral parcels Klang 2026", price="72.50"))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/catalog/admin/{p.id}")
    db.session.expire_all()
    saved = db.session.get(Product, p.id)
    assert (saved.name, saved.price_sen) == ("Cadastral parcels Klang 2026", 7250)
    assert (saved.sku, saved.state, saved.district, saved.licence_key) == \
        (p.sku, "Selangor", "Petaling", "standard-digital-data")  # what was not edited stays
    events = _audits("catalog.product.update", AuditEvent.target_id == str(p.id))
    assert len(events) == 1
    assert events[0].actor_id == admin.id and events[0].target_type == "Product"
    assert set(events[0].details["changed"]) == {"name", "price_sen"}
    assert "72.50" in client.get(f"/catalog/p/{saved.slug}").get_data(as_text=True)


def test_admin_edit_with_a_bad_price_shows_it_beside_the_field_and_changes_nothing(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product(name="Survey control Perak", price_sen=5000)
    login_session(client, admin)
    client.set_cookie("lang", "en")
    token = csrf_from(client.get(f"/catalog/admin/{p.id}").data)
    for bad in ("12.345", "abc", "-5.00"):
        r = client.post(f"/catalog/admin/{p.id}", data=_edit_data(p, csrf_token=token, name="Renamed", price=bad))
        html = r.get_data(as_text=True)
        assert r.status_code == 200, bad
        field = re.search(r'<div class="field has-error" data-field="price".*?</div>', html, re.S)
        assert field and "Enter an amount like 25.00" in field.group(0), bad
        assert 'value="Renamed"' in html  # what was typed is kept in the form
    db.session.expire_all()
    saved = db.session.get(Product, p.id)
    assert (saved.name, saved.price_sen) == ("Survey control Perak", 5000)
    assert _audits("catalog.product.update") == []


def test_admin_without_the_totp_step_cannot_edit(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product(name="District boundaries Kedah", price_sen=5000)
    login_session(client, admin)
    token = csrf_from(client.get(f"/catalog/admin/{p.id}").data)
    login_session(client, admin, mfa=False)
    with client.session_transaction() as sess:
        sess.pop("mfa_ok", None)
    r = client.post(f"/catalog/admin/{p.id}", data=_edit_data(p, csrf_token=token, name="Renamed", price="1.00"))
    assert r.status_code == 302 and "/account/" in r.headers["Location"]
    db.session.expire_all()
    assert (db.session.get(Product, p.id).name, db.session.get(Product, p.id).price_sen) == \
        ("District boundaries Kedah", 5000)
    assert _audits("catalog.product.update") == []


# -- 2. editing a version --------------------------------------------------------------------------

def test_admin_edits_version_notes_and_publication_audited(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product()
    v = p.versions[0]
    login_session(client, admin)
    client.set_cookie("lang", "en")
    page = client.get(f"/catalog/admin/versions/{v.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "First release" in html and "2026.1" in html
    r = client.post(f"/catalog/admin/versions/{v.id}", data={
        "csrf_token": csrf_from(page.data), "change_notes": "312 lot numbers corrected in Damansara.",
        "published": "y"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/catalog/admin/{p.id}")
    db.session.expire_all()
    saved = db.session.get(ProductVersion, v.id)
    assert (saved.change_notes, saved.published, saved.label) == \
        ("312 lot numbers corrected in Damansara.", True, "2026.1")
    events = _audits("catalog.version.update", AuditEvent.target_id == str(v.id))
    assert len(events) == 1 and events[0].actor_id == admin.id and events[0].details["published"] is True
    assert "312 lot numbers corrected" in client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)

    # Unticking "Published" hides the version from the product page.
    page = client.get(f"/catalog/admin/versions/{v.id}")
    client.post(f"/catalog/admin/versions/{v.id}", data={"csrf_token": csrf_from(page.data),
                                                          "change_notes": "Withdrawn."})
    db.session.expire_all()
    assert db.session.get(ProductVersion, v.id).published is False
    assert len(_audits("catalog.version.update", AuditEvent.target_id == str(v.id))) == 2
    assert "Withdrawn." not in client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)


def test_customer_cannot_open_or_save_the_version_page(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product()
    v = p.versions[0]
    login_session(client, admin)
    token = csrf_from(client.get(f"/catalog/admin/versions/{v.id}").data)
    for customer in (make_user(tier=Tier.PRIMARY), make_user(tier=Tier.REGULAR)):
        login_session(client, customer)
        assert client.get(f"/catalog/admin/versions/{v.id}").status_code == 403
        r = client.post(f"/catalog/admin/versions/{v.id}", data={"csrf_token": token, "change_notes": "Hacked"})
        assert r.status_code == 403
    db.session.expire_all()
    saved = db.session.get(ProductVersion, v.id)
    assert (saved.change_notes, saved.published) == ("First release", True)
    assert _audits("catalog.version.update") == []
    # Signed out: sent to sign in.
    r = client.application.test_client().get(f"/catalog/admin/versions/{v.id}")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]


# -- 3. the demo catalogue -------------------------------------------------------------------------

def test_demo_catalogue_covers_every_type_with_real_files_restricted_data_and_sessions(app):
    from ebiz.delivery.models import ProductFile
    from ebiz.delivery.storage import get_storage

    result = app.test_cli_runner().invoke(args=["ebiz", "seed-demo"])
    assert result.exit_code == 0, result.output
    published = db.session.scalars(select(Product).where(Product.status == "published")).all()
    assert len(published) >= 12
    kinds = {(p.type, p.service_kind) for p in published}
    assert {("digital", None), ("printed", None), ("service", "training"), ("service", "extraction")} <= kinds
    assert any(p.restricted for p in published)

    # Every published version of digital data has files, and each file's size and SHA-256 are its bytes'.
    storage = get_storage()
    files = db.session.scalars(select(ProductFile).where(ProductFile.removed_at.is_(None))).all()
    assert files
    for pf in files:
        data = storage.path(pf.storage_key).read_bytes()
        assert pf.size == len(data) > 0, pf.filename
        assert pf.sha256 == hashlib.sha256(data).hexdigest(), pf.filename
    with_files = {pf.version_id for pf in files}
    for p in published:
        if p.type == "digital":
            for v in service.published_versions(p):
                assert v.id in with_files, (p.sku, v.label)

    now = utcnow()
    upcoming = db.session.scalars(select(TrainingSession).join(Product).where(
        Product.status == "published", Product.service_kind == "training", TrainingSession.starts_at > now,
        TrainingSession.cancelled.is_(False))).all()
    assert any(s.seats_left > 0 for s in upcoming)
    trn = db.session.get(Product, upcoming[0].product_id)
    assert 'data-testid="session"' in app.test_client().get(f"/catalog/p/{trn.slug}").get_data(as_text=True)


# -- 4. why a visitor may not buy ------------------------------------------------------------------

def _reason(user, product) -> str:
    with force_locale("en"):
        ok, why = service.may_purchase(user, product)
        assert not ok
        return htmllib.escape(str(why), quote=True)


def test_signed_out_visitor_on_restricted_data_sees_why_and_where_the_counters_are(client):
    p = make_product(name="Aerial imagery Putrajaya", restricted=True, licence_key="restricted-data")
    client.set_cookie("lang", "en")
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    why = re.search(r'<div class="flash flash-warning" data-testid="why-not">(.*?)</div>', html, re.S).group(1)
    assert _reason(AnonymousUserMixin(), p) in why and "restricted data" in why
    assert 'href="/counter/locations" data-testid="counter-locations">Where are the counters?</a>' in why
    assert 'data-testid="add-to-cart"' not in html


def test_regular_customer_on_digital_data_sees_the_primary_explanation_and_the_counters(client):
    p = make_product(name="Survey control points Melaka")
    regular = make_user(tier=Tier.REGULAR)
    login_session(client, regular)
    client.set_cookie("lang", "en")
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    why = re.search(r'<div class="flash flash-warning" data-testid="why-not">(.*?)</div>', html, re.S).group(1)
    assert _reason(regular, p) in why and "Primary customers only" in why
    assert 'href="/counter/locations" data-testid="counter-locations">Where are the counters?</a>' in why
    assert 'data-testid="add-to-cart"' not in html
    # A Primary customer may buy it: no explanation and no counters link.
    login_session(client, make_user(tier=Tier.PRIMARY))
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    assert 'data-testid="why-not"' not in html and 'data-testid="counter-locations"' not in html
    assert 'data-testid="add-to-cart"' in html
