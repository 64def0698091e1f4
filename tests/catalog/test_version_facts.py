"""Each release records its own format, CRS and coverage: a later release may change them, and
editing the product does not rewrite what an earlier release was."""

from datetime import date

from sqlalchemy import select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.catalog import service
from ebiz.catalog.models import ProductVersion
from ebiz.extensions import db
from tests.factories import make_product, make_user


def test_a_release_keeps_its_own_facts_when_the_product_changes(app, client):
    admin = make_user(role=Role.ADMIN)
    p = make_product(version=False, data_format="Shapefile", crs="EPSG:3168 (Cassini)")
    first = service.add_version(p.id, label="2025.1", release_date=date(2025, 1, 1), change_notes="", actor=admin)
    second = service.add_version(p.id, label="2026.1", release_date=date(2026, 1, 1), change_notes="New datum",
                                 data_format="GeoPackage", crs=" EPSG:3375 (GDM2000 RSO) ", actor=admin)
    db.session.commit()
    assert (first.data_format, first.crs, first.coverage) == ("Shapefile", "EPSG:3168 (Cassini)", "Selangor, Petaling")
    assert (second.data_format, second.crs) == ("GeoPackage", "EPSG:3375 (GDM2000 RSO)")

    p.data_format, p.crs = "GeoPackage", "EPSG:3375 (GDM2000 RSO)"  # the product now describes the new release
    db.session.commit()
    assert db.session.get(ProductVersion, first.id).facts()["crs"] == "EPSG:3168 (Cassini)"

    client.set_cookie("lang", "en")
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    versions = html.split('data-testid="version"')[1:]  # newest first
    assert 'data-testid="version-facts"' not in versions[0]  # as the product says: not repeated
    assert "Shapefile" in versions[1] and "EPSG:3168 (Cassini)" in versions[1]


def test_a_version_without_facts_shows_its_products_and_edits_are_audited(app):
    admin = make_user(role=Role.ADMIN)
    p = make_product(crs="EPSG:4742 (GDM2000)")
    v = db.session.scalar(select(ProductVersion).where(ProductVersion.product_id == p.id))
    assert v.facts() == {"format": "GeoJSON", "crs": "EPSG:4742 (GDM2000)", "coverage": "Selangor, Petaling"}
    service.edit_version(v.id, change_notes="Fixed", published=True, data_format="CSV", crs="", coverage="",
                         actor=admin)
    db.session.commit()
    assert v.facts()["format"] == "CSV" and v.crs is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "catalog.version.update"))
    assert event.details["data_format"] == [None, "CSV"] and "crs" not in event.details
