"""Migration tests: a small sample export of the old system, and helpers to walk the link flow."""

import re

import pytest
from sqlalchemy import select

from ebiz.extensions import db
from ebiz.migration import importer
from ebiz.migration.sample import DEMO_SKUS, write_sample
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from, make_product


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


def ask_url(client, login: str) -> str:
    """Sign in with an old identifier: the ask page's URL."""
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                             "password": "whatever-it-was"})
    assert r.status_code == 302, r.data[:500]
    assert "/migration/ask/" in r.headers["Location"]
    return r.headers["Location"]


def request_link(client, login: str) -> str:
    """Ask for a link by sign-in and Yes; the link from the mail written to the outbox."""
    url = ask_url(client, login)
    page = client.get(url)
    r = client.post(url + "/yes", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 200, r.data[:500]
    return last_link()


def last_link() -> str:
    msg = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "migration_link")
                             .order_by(OutboxMessage.id.desc())).first()
    assert msg is not None, "no migration mail"
    return re.search(r"https?://\S+/migration/link/\S+", msg.body_text).group(0)


def link_path(link: str) -> str:
    return link[link.index("/migration/link/"):]


def submit_link(client, link: str, **fields):
    path = link_path(link)
    page = client.get(path)
    data = {"csrf_token": csrf_from(page.data), "full_name": "Aminah binti Hassan", "phone": "+60 12-345 6789",
            "address": "1 Jalan Baru", "password": "Peta-Lama-Tanah-Rata-77", "confirm": "Peta-Lama-Tanah-Rata-77",
            "accept_terms": "y"}
    data.update(fields)
    return client.post(path, data=data)


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
