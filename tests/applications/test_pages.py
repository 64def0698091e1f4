"""The application pages: the form keeps what was typed, drafts can be edited, lists and filters render."""

from ebiz.accounts.models import Role, Tier
from ebiz.applications.models import Application, State
from ebiz.extensions import db
from tests.factories import csrf_from, login_session, make_user

from .helpers import draft, restricted_product, submitted


def test_the_form_refuses_bad_input_beside_the_field_and_saves_nothing(app, client):
    user = make_user(tier=Tier.PRIMARY)
    p = restricted_product()
    login_session(client, user)
    r = client.get(f"/applications/new?product={p.id}")
    assert r.status_code == 200 and b"Akta Rahsia Rasmi 1972" in r.data  # Malay by default
    token = csrf_from(r.data)
    r = client.post("/applications/new", data={"csrf_token": token, "products": [str(p.id)], "wants_data": "y",
                                               "bbox": "not a box", "period_from": "2026-05-01",
                                               "period_to": "2026-01-01", "agency": "A" * 201,
                                               "purpose": "Kept as typed"})
    assert r.status_code == 200 and b"Kept as typed" in r.data
    assert db.session.query(Application).count() == 0
    r = client.post("/applications/new", data={"csrf_token": token, "products": ["999999"], "wants_data": "y"})
    assert r.status_code == 200 and db.session.query(Application).count() == 0


def test_a_draft_is_edited_and_the_lists_and_queue_render(app, client):
    user, admin = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN)
    p = restricted_product()
    d = draft(user, p)
    s = submitted(user, p)
    login_session(client, user)
    r = client.get(f"/applications/{d.token}/edit")
    assert r.status_code == 200 and b"Flood modelling" in r.data
    r = client.post(f"/applications/{d.token}/edit", data={
        "csrf_token": csrf_from(r.data), "products": [str(p.id)], "wants_data": "y", "purpose": "Changed purpose",
        "agency": "JPS", "applicant_category": "federal_agency", "intended_use": "Model",
        "area_state": "Selangor", "period_from": "2026-01-01", "period_to": "2026-06-30", "declaration": "y"})
    assert r.status_code == 302
    assert db.session.get(Application, d.id).purpose == "Changed purpose"
    assert client.get(f"/applications/{s.token}/edit").status_code == 404  # only a draft
    r = client.get("/applications/")
    assert r.status_code == 200 and s.reference.encode() in r.data
    login_session(client, admin)
    for query in ("", "?state=submitted", f"?product={p.id}", "?older_than=7", "?state=bogus&product=x"):
        r = client.get("/applications/staff/" + query)
        assert r.status_code == 200, query
    assert s.reference.encode() in client.get("/applications/staff/?state=submitted").data
    assert db.session.get(Application, s.id).state == State.SUBMITTED


def test_an_administrator_grants_and_removes_the_reviewer_permission(app, client):
    from ebiz.applications.models import Reviewer
    from ebiz.audit.models import AuditEvent

    admin, agent, customer = make_user(role=Role.ADMIN), make_user(role=Role.SUPPORT), make_user()
    login_session(client, agent)
    assert client.get("/applications/staff/").status_code == 403  # not a reviewer yet
    login_session(client, admin)
    r = client.get("/applications/staff/reviewers")
    token = csrf_from(r.data)
    r = client.post("/applications/staff/reviewers", data={"csrf_token": token, "email": customer.email})
    assert r.status_code == 200 and db.session.query(Reviewer).count() == 0  # customers cannot review
    r = client.post("/applications/staff/reviewers", data={"csrf_token": token, "email": agent.email.upper()})
    assert r.status_code == 302 and db.session.query(Reviewer).count() == 1
    assert db.session.query(AuditEvent).filter_by(action="applications.reviewer.grant").count() == 1
    login_session(client, agent)
    assert client.get("/applications/staff/").status_code == 200
    assert client.get("/applications/staff/reviewers").status_code == 403  # reviewers do not grant
    login_session(client, admin)
    client.post(f"/applications/staff/reviewers/{agent.id}/revoke", data={"csrf_token": token})
    assert db.session.query(Reviewer).count() == 0
    login_session(client, agent)
    assert client.get("/applications/staff/").status_code == 403
