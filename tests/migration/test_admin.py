"""Administrators: the dashboard, its CSV, and correcting an email after an identity check."""

from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.migration.models import LegacyCustomer
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from, login_session, make_user

from .helpers import link_path, request_link, submit_link


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


def test_correct_email_is_audited_and_sends_a_new_link(app, client, imported):
    old_link = request_link(app.test_client(), "aminah.hassan@example.my")
    admin = _admin(client)
    pk = _aminah().id
    page = client.get(f"/migration/admin/{pk}")
    # Without a reason and reference nothing changes.
    r = client.post(f"/migration/admin/{pk}", data={"csrf_token": csrf_from(page.data),
                                                     "email": "aminah.baru@example.my", "reason": "", "reference": ""})
    assert r.status_code == 200 and _aminah().email == "aminah.hassan@example.my"
    r = client.post(f"/migration/admin/{pk}", data={"csrf_token": csrf_from(page.data),
                                                     "email": "aminah.baru@example.my",
                                                     "reason": "MyKad seen at HQ counter", "reference": "TKT-123"})
    assert r.status_code == 302
    row = _aminah()
    assert row.email == "aminah.baru@example.my" and row.email_status == "corrected"
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "migration.email_corrected"))
    assert ev.actor_id == admin.id and ev.details["reason"] == "MyKad seen at HQ counter"
    assert ev.details["reference"] == "TKT-123"
    mail = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail.to_address == "aminah.baru@example.my"
    fresh = app.test_client()
    assert fresh.get(link_path(old_link)).status_code == 400  # the link to the old address died
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 2


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
