"""Company representatives: shown with their history; changed only by an administrator."""

from sqlalchemy import func, select

from ebiz.accounts.models import Kind, Role
from ebiz.audit.models import AuditEvent
from ebiz.companies.models import Representative
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from, make_user, sign_in


def _company(**fields):
    return make_user(kind=Kind.COMPANY, company_reg_no="201901012345", company_name="Ukur Jaya Sdn. Bhd.",
                     full_name="Siti Aminah", rep_mykad="850615105523", **fields)


def _change(client, company, **fields):
    url = f"/admin/users/{company.id}/representative"
    page = client.get(url)
    data = {"csrf_token": csrf_from(page.data), "full_name": "Lim Ah Kow", "mykad": "900101-14-5678",
            "reason": "Siti left the company", "reference": "Letter of 1 Dec 2026"}
    data.update(fields)
    return client.post(url, data=data)


def test_admin_changes_the_representative_history_is_kept_old_sessions_end(app):
    company = _company()
    company_client = app.test_client()
    sign_in(company_client, company)
    assert company_client.get("/account/").status_code == 200
    admin = make_user(role=Role.ADMIN)
    client = app.test_client()
    sign_in(client, admin)
    assert "Siti Aminah" in client.get(f"/admin/users/{company.id}/representative").get_data(as_text=True)
    r = _change(client, company)
    assert r.status_code == 302
    db.session.refresh(company)
    assert (company.full_name, company.rep_mykad) == ("Lim Ah Kow", "900101145678")
    rows = db.session.scalars(select(Representative).order_by(Representative.id)).all()
    assert [(r.full_name, r.until is None) for r in rows] == [("Siti Aminah", False), ("Lim Ah Kow", True)]
    assert rows[1].reference == "Letter of 1 Dec 2026" and rows[1].changed_by_id == admin.id
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "company.representative_changed"))
    assert ev.actor_id == admin.id and ev.details["old_mykad"] == "850615105523"
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "company_representative_changed"))
    assert mail.to_address == company.email
    # The old representative's session has ended.
    assert company_client.get("/account/").status_code == 302
    html = client.get(f"/admin/users/{company.id}/representative").get_data(as_text=True)
    assert "Siti left the company" in html and "Registered with the account" in html  # the first one


def test_a_change_needs_reason_reference_and_a_valid_new_mykad(app):
    company = _company()
    client = app.test_client()
    sign_in(client, make_user(role=Role.ADMIN))
    for fields, field in ((dict(reason=""), "reason"), (dict(reference=""), "reference"),
                          (dict(mykad="12345"), "mykad"), (dict(mykad="850615105523"), "mykad"),
                          (dict(reference="x" * 61), "reference")):
        r = _change(client, company, **fields)
        assert r.status_code == 400 and f'id="{field}-error"' in r.get_data(as_text=True), fields
    assert db.session.scalar(select(func.count(Representative.id))) == 0
    db.session.refresh(company)
    assert company.rep_mykad == "850615105523"


def test_only_an_administrator_changes_a_representative(app):
    company = _company()
    for role in (Role.SUPPORT, Role.COUNTER, Role.CUSTOMER):
        client = app.test_client()
        sign_in(client, make_user(role=role))
        page = client.get("/account/")
        r = client.post(f"/admin/users/{company.id}/representative",
                        data={"csrf_token": csrf_from(page.data), "full_name": "X", "mykad": "900101145678",
                              "reason": "r", "reference": "t"})
        assert r.status_code == 403
    assert db.session.scalar(select(func.count(Representative.id))) == 0


def test_an_individual_has_no_representative_page(app):
    client = app.test_client()
    sign_in(client, make_user(role=Role.ADMIN))
    person = make_user()
    assert client.get(f"/admin/users/{person.id}/representative").status_code == 404
