"""Edges of delivery: staff extending the download period, oversized uploads, version labels on My downloads."""

import io
import os
import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier, User
from ebiz.audit.models import AuditEvent
from ebiz.catalog.models import ProductVersion
from ebiz.clock import utcnow
from ebiz.delivery import service
from ebiz.delivery.models import Entitlement, ProductFile
from ebiz.extensions import db
from ebiz.support import service as support
from tests.delivery.helpers import bought_file
from tests.factories import csrf_from, login_session, make_grant, make_product, make_user


def _adjust(client, ent, **fields):
    """Staff restore or extend from the customer's support ticket (the only place they can)."""
    with client.session_transaction() as s:
        agent = db.session.get(User, int(s["_user_id"].split(":")[0]))
    ticket = support.open_ticket(customer=db.session.get(User, ent.user_id), name="", email=None,
                                 category="downloads", subject="Download", body="Please help")
    support.assign(ticket, agent, agent)
    db.session.commit()
    assert client.get(f"/downloads/staff/{ent.ref}").status_code == 200
    page = client.get(f"/support/desk/t/{ticket.reference}")
    data = {"csrf_token": csrf_from(page.data), "entitlement_ref": ent.ref, "add_downloads": "0",
            "extend_days": "0", "reason": ""}
    data.update(fields)
    return client.post(f"/support/desk/t/{ticket.reference}/allowance", data=data)


def _adjust_events():
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.entitlement.adjust")).all()


# -- 8. staff extend the download period ------------------------------------------------------------

def test_staff_extend_moves_expiry_by_the_days_asked_and_audits_them(client):
    user, product, grant, ent, pf, data = bought_file(download_limit=2, download_window_days=30)
    before = ent.expires_at
    agent = make_user(role=Role.SUPPORT)
    login_session(client, agent)
    r = _adjust(client, ent, extend_days="14", reason="Customer was abroad for two weeks")
    assert r.status_code == 302
    db.session.rollback()
    fresh = db.session.get(Entitlement, ent.id)
    assert fresh.expires_at == before + timedelta(days=14)
    assert fresh.downloads_allowed == 2 and fresh.downloads_used == 0  # only the period changed
    [ev] = _adjust_events()
    assert ev.actor_id == agent.id and ev.target_id == str(ent.id)
    assert ev.details["extend_days"] == 14 and ev.details["add_downloads"] == 0
    assert ev.details["before_expires"] == before.isoformat()
    assert ev.details["reason"].endswith(": Customer was abroad for two weeks")


def test_staff_extend_an_ended_period_counts_from_now(client):
    user, product, grant, ent, pf, data = bought_file()
    ent.expires_at = utcnow() - timedelta(days=3)
    db.session.commit()
    login_session(client, make_user(role=Role.SUPPORT))
    start = utcnow()
    assert _adjust(client, ent, extend_days="5", reason="Window ended during an outage").status_code == 302
    db.session.rollback()
    expires = db.session.get(Entitlement, ent.id).expires_at
    assert start + timedelta(days=5) <= expires <= utcnow() + timedelta(days=5)
    assert _adjust_events()[0].details["extend_days"] == 5
    customer = client.application.test_client()
    login_session(customer, user)
    assert customer.get(f"/downloads/get/{ent.ref}/{pf.ref}").status_code == 302  # usable again


def test_staff_extend_past_the_limit_changes_nothing(client):
    user, product, grant, ent, pf, data = bought_file()
    before = ent.expires_at
    login_session(client, make_user(role=Role.SUPPORT))
    r = _adjust(client, ent, extend_days="3651", reason="Far too generous")
    assert r.status_code == 400
    db.session.rollback()
    assert db.session.get(Entitlement, ent.id).expires_at == before
    assert _adjust_events() == []


# -- 9. oversized upload -------------------------------------------------------------------------------

def _files_under(root) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def test_oversized_upload_shows_the_limit_and_stores_nothing(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 400 * 1024)
    admin = make_user(role=Role.ADMIN)
    product = make_product()
    version = product.versions[0]
    login_session(client, admin)
    before = _files_under(app.config["STORAGE_DIR"])
    url = f"/downloads/staff/versions/{version.id}/files"
    page = client.get(url)
    # Over the limit, under 500 KiB: larger bodies the test client spools to a temporary file it never closes.
    r = client.post(url, data={"csrf_token": csrf_from(page.data),
                               "file": (io.BytesIO(os.urandom(450_000)), "parcels.zip")},
                    content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    m = re.search(r'<p class="error" id="file-error">([^<]*)</p>', html)
    assert m and m.group(1) == "The file is larger than the limit of 0.4 MiB."
    assert 'data-testid="upload"' in html  # the form again, to choose another file
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ProductFile)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "delivery.file.store")) == 0
    assert _files_under(app.config["STORAGE_DIR"]) == before  # no object, no half-written temporary file


# -- 10. version labels and newer versions on My downloads ------------------------------------------------

def _section(html: str, ent) -> str:
    m = re.search(rf'data-testid="entitlement" data-ref="{ent.ref}">(.*?)</section>', html, re.S)
    assert m, ent.ref
    return m.group(1)


def test_my_downloads_shows_each_version_and_no_notice_without_a_newer_published_one(client):
    user, product, grant, ent, pf, data = bought_file()
    # An unpublished newer version and a published older one: neither is news to the customer.
    db.session.add(ProductVersion(product_id=product.id, label="2026.2", release_date=date(2026, 7, 1),
                                  change_notes="Draft: not released", published=False))
    db.session.add(ProductVersion(product_id=product.id, label="2025.4", release_date=date(2025, 10, 1),
                                  change_notes="Older release", published=True))
    other = make_product(version=False)
    old = ProductVersion(product_id=other.id, label="2024.3", release_date=date(2024, 9, 1), published=True)
    db.session.add(old)
    db.session.commit()
    ent2 = service.grant_entitlement(make_grant(user, other, version=old, commit=False))
    db.session.commit()
    login_session(client, user)
    html = client.get("/downloads/").get_data(as_text=True)
    first, second = _section(html, ent), _section(html, ent2)
    assert re.search(r"<h2>[^<]*<span[^>]*>[^<]*2026\.1</span></h2>", first)
    assert re.search(r"<h2>[^<]*<span[^>]*>[^<]*2024\.3</span></h2>", second)
    assert "2026.1" not in second and "2024.3" not in first
    assert 'data-testid="newer-version"' not in html
    assert "2026.2" not in html and "Draft: not released" not in html and "Older release" not in html


def test_publishing_the_newer_version_brings_the_notice(client):
    # The counterpart of the test above: the same page does show the notice once the version is published.
    user, product, grant, ent, pf, data = bought_file(user=make_user(tier=Tier.PRIMARY))
    draft = ProductVersion(product_id=product.id, label="2026.2", release_date=date(2026, 7, 1),
                           change_notes="Parcels re-surveyed in Klang", published=False)
    db.session.add(draft)
    db.session.commit()
    login_session(client, user)
    assert 'data-testid="newer-version"' not in client.get("/downloads/").get_data(as_text=True)
    draft.published = True
    db.session.commit()
    section = _section(client.get("/downloads/").get_data(as_text=True), ent)
    assert 'data-testid="newer-version"' in section and "2026.2" in section
