"""Licence texts, acceptance, grants, certificates and public verification."""

import hashlib

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from ebiz.licensing import service
from ebiz.licensing.models import LicenceAcceptance, LicenceGrant
from tests.factories import make_user
from tests.orders.helpers import client_for, digital_product

KEYS = {"standard-digital-data", "restricted-data", "training-terms", "on-demand-service"}


def test_licence_files_load_with_version_and_exact_hash():
    lics = {lic.key: lic for lic in service.list_licences()}
    assert set(lics) >= KEYS
    for lic in lics.values():
        raw = (service.LICENCE_DIR / f"{lic.key}.md").read_bytes()
        assert lic.sha256 == hashlib.sha256(raw).hexdigest()
        assert lic.version and lic.title_ms and lic.title_en
        assert "## Bahasa Malaysia" in lic.body and "## English" in lic.body
        assert "<h2>" in lic.html


def test_unknown_or_path_like_licence_key_is_not_found():
    from ebiz.errors import NotFound

    for key in ("nope", "../config", "standard-digital-data/../x", ""):
        with pytest.raises(NotFound):
            service.get_licence(key)


def test_accept_records_hash_ip_and_agent_and_refuses_a_changed_text(app):
    user = make_user(tier=Tier.PRIMARY)
    product = digital_product()
    lic = service.get_licence(product.licence_key)
    with pytest.raises(ValidationError):
        service.accept(user, product, sha256_shown="0" * 64, ip="10.0.0.1", user_agent="UA")
    assert db.session.scalar(select(func.count(LicenceAcceptance.id))) == 0
    acc = service.accept(user, product, sha256_shown=lic.sha256, ip="10.0.0.1", user_agent="Mozilla/5.0")
    db.session.commit()
    assert (acc.licence_key, acc.licence_version, acc.text_sha256) == (lic.key, lic.version, lic.sha256)
    assert acc.ip == "10.0.0.1" and acc.user_agent == "Mozilla/5.0" and acc.accepted_at is not None


def _grant(user, product, **kw):
    lic = service.get_licence(product.licence_key)
    acc = service.accept(user, product, sha256_shown=lic.sha256, ip="127.0.0.1", user_agent="t")
    return service.issue_grant(user_id=user.id, product=product, version_id=product.versions[0].id,
                               order_line_id=kw.get("line"), acceptance=acc)


def test_grant_is_issued_once_per_line_and_revocation_needs_a_reason(app):
    user = make_user(tier=Tier.PRIMARY)
    product = digital_product()
    g1 = _grant(user, product, line=77)
    g2 = service.issue_grant(user_id=user.id, product=product, version_id=None, order_line_id=77, acceptance=None)
    db.session.commit()
    assert g1.id == g2.id and g1.number.startswith("EBZ-LIC-")
    assert g1.valid_until is None  # the standard licence is perpetual
    assert service.grant_state(g1) == "valid"
    with pytest.raises(ValidationError):
        service.revoke(g1, actor=user, reason="  ")
    assert db.session.get(LicenceGrant, g1.id).status == "active"
    service.revoke(g1, actor=user, reason="breach")
    db.session.commit()
    assert service.grant_state(g1) == "revoked"
    with pytest.raises(Conflict):
        service.revoke(g1, actor=user, reason="again")


def test_restricted_licence_is_valid_one_year(app):
    user = make_user(tier=Tier.PRIMARY)
    product = digital_product(licence_key="restricted-data")
    g = _grant(user, product)
    assert g.valid_until.year == g.valid_from.year + 1


def test_mask_name():
    assert service.mask_name("Siti Aminah binti Ali") == "S*** A***** b**** A**"
    assert service.mask_name("") == "—"


def test_verify_page_confirms_without_personal_data(app, client):
    user = make_user(tier=Tier.PRIMARY, full_name="Nurul Izzah Rahman")
    product = digital_product()
    g = _grant(user, product)
    db.session.commit()
    r = client.get(f"/verify/{g.number}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-state="valid"' in html
    assert "N**** I**** R*****" in html
    for secret in ("Nurul", "Rahman", user.email, user.mykad):
        assert secret not in html
    service.revoke(g, actor=user, reason="breach")
    db.session.commit()
    assert 'data-state="revoked"' in client.get(f"/verify/{g.number}").get_data(as_text=True)
    r = client.get("/verify/EBZ-LIC-0000-0000")
    assert r.status_code == 404 and 'data-state="unknown"' in r.get_data(as_text=True)


def test_certificate_page_and_pdf_for_the_holder_only(app):
    holder = make_user(tier=Tier.PRIMARY)
    other = make_user(tier=Tier.PRIMARY)
    g = _grant(holder, digital_product())
    db.session.commit()
    client = client_for(app, other)
    assert client.get(f"/licences/{g.number}").status_code == 404
    assert client.get(f"/licences/{g.number}.pdf").status_code == 404
    client2 = client_for(app, holder)
    page = client2.get(f"/licences/{g.number}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and g.number in html
    assert 'src="data:image/svg+xml' in html and f"/verify/{g.number}" in html
    pdf = client2.get(f"/licences/{g.number}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert g.number in client2.get("/licences/").get_data(as_text=True)


def test_the_certificate_pdf_says_what_the_page_says_of_an_expired_licence(app, monkeypatch):
    from datetime import timedelta

    from ebiz.clock import utcnow
    from tests.orders.helpers import pdf_text

    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    holder = make_user(tier=Tier.PRIMARY)
    g = _grant(holder, digital_product())
    g.valid_from, g.valid_until = utcnow() - timedelta(days=400), utcnow() - timedelta(days=35)
    db.session.commit()
    client = client_for(app, holder)
    assert "Expired" in client.get(f"/licences/{g.number}").get_data(as_text=True)
    text = pdf_text(client.get(f"/licences/{g.number}.pdf").data)
    assert "Expired" in text and "Active" not in text


def test_licence_terms_page_shows_the_hash(client):
    lic = service.get_licence("standard-digital-data")
    r = client.get("/licences/terms/standard-digital-data")
    assert r.status_code == 200 and lic.sha256 in r.get_data(as_text=True)


def test_flask_licensing_list_and_revoke(app):
    from click.testing import CliRunner

    runner = CliRunner()
    out = runner.invoke(app.cli, ["licensing", "list"], catch_exceptions=False).output
    lic = service.get_licence("restricted-data")
    assert "restricted-data" in out and lic.sha256 in out
    g = _grant(make_user(tier=Tier.PRIMARY), digital_product())
    db.session.commit()
    out = runner.invoke(app.cli, ["licensing", "revoke", g.number, "--reason", "court order"],
                        catch_exceptions=False).output
    assert f"revoked {g.number}" in out
    db.session.rollback()
    assert db.session.get(LicenceGrant, g.id).status == "revoked"
    assert runner.invoke(app.cli, ["licensing", "revoke", "EBZ-LIC-NONE-NONE", "--reason", "x"]).exit_code != 0


def test_admin_revokes_from_the_certificate_page_and_it_is_audited(app):
    import re

    from ebiz.accounts.models import Role
    from ebiz.audit.models import AuditEvent

    holder = make_user(tier=Tier.PRIMARY)
    grant = _grant(holder, digital_product())
    db.session.commit()
    customer = client_for(app, holder)
    page = customer.get(f"/licences/{grant.number}").get_data(as_text=True)
    assert "/revoke" not in page  # customers see no revoke form...
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = customer.post(f"/licences/{grant.number}/revoke", data={"csrf_token": token, "reason": "x"})
    assert r.status_code == 403
    db.session.rollback()
    assert db.session.get(LicenceGrant, grant.id).status == "active"  # ...and cannot post one
    admin = make_user(role=Role.ADMIN)
    staff = client_for(app, admin)
    page = staff.get(f"/licences/{grant.number}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = staff.post(f"/licences/{grant.number}/revoke", data={"csrf_token": token, "reason": "Data resold"})
    assert r.status_code == 302
    db.session.rollback()
    assert db.session.get(LicenceGrant, grant.id).status == "revoked"
    ev = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "licence.revoke")).one()
    assert ev.actor_id == admin.id and ev.details["reason"] == "Data resold"
