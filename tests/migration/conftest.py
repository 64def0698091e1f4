"""Migration tests: a small sample export of the old system, and helpers to walk the link flow."""


import pytest

from ebiz.extensions import db
from ebiz.migration import importer
from ebiz.migration.sample import DEMO_SKUS, write_sample
from tests.factories import make_product


@pytest.fixture
def catalogue(app):
    for sku in DEMO_SKUS:
        make_product(sku=sku, slug=sku.lower(), commit=False)
    db.session.commit()


@pytest.fixture
def export_dir(tmp_path, catalogue):
    path = tmp_path / "export"
    write_sample(path, customers=40)
    return path


@pytest.fixture
def imported(export_dir):
    report = importer.import_export(export_dir)
    assert not report.control, report.control
    return report




@pytest.fixture
def client(app):
    """A browser that reads English (the messages asserted here), as a customer may choose."""
    c = app.test_client()
    c.set_cookie("lang", "en")
    return c


@pytest.fixture(autouse=True)
def _english(request, monkeypatch):
    """Reports and pages in English here (the Malay catalogue is checked by test_translations)."""
    if "app" in request.fixturenames:
        monkeypatch.setitem(request.getfixturevalue("app").config, "BABEL_DEFAULT_LOCALE", "en")
