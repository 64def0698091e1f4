"""Administrators: the dashboard and its CSV (correcting an email on a support ticket: test_support.py)."""

from sqlalchemy import select

from ebiz.accounts.models import Role
from ebiz.extensions import db
from ebiz.migration.models import LegacyCustomer
from ebiz.notifications.models import OutboxMessage
from tests.factories import login_session, make_user

from .helpers import request_link, submit_link


def _admin(client):
    admin = make_user(role=Role.ADMIN)
    login_session(client, admin)
    return admin


def _aminah():
    db.session.expire_all()
    return db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == "L-100001"))


def test_dashboard_counts_and_csv(app, client, imported):
    other = app.test_client()
    link = request_link(other, "aminah.hassan@example.my")
    submit_link(other, link)
    request_link(app.test_client(), "820715105123")  # Rajesh: link sent, not used
    _admin(client)
    page = client.get("/migration/admin")
    assert page.status_code == 200
    stats = page.data.decode()
    assert ">34<" in stats and ">1<" in stats and ">33<" in stats
    r = client.get("/migration/admin/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.data.decode().splitlines()
    assert len(lines) == 35 and lines[1].startswith("L-100001,individual,migrated")


def test_dashboard_is_for_administrators_only(client, imported):
    customer = make_user()
    login_session(client, customer)
    assert client.get("/migration/admin").status_code == 403
    assert client.get("/migration/admin/export.csv").status_code == 403


def test_dashboard_counts_links_the_mail_server_refused(app, client, imported):
    request_link(app.test_client(), "aminah.hassan@example.my")
    request_link(app.test_client(), "820715105123")
    msg = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    msg.status, msg.last_error = "failed", "SMTPRecipientsRefused: 550 no such user"
    db.session.commit()
    _admin(client)
    page = client.get("/migration/admin").data.decode()
    row = page[page.index("Links that could not be delivered"):]
    assert row[:row.index("</tr>")].endswith('<td class="num">1</td>')
