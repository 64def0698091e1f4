"""Staff console: search users, disable and enable, roles and counters, the audit log."""

from sqlalchemy import select

from ebiz.accounts.models import Kind, Role, Tier, User
from ebiz.audit.models import AuditEvent
from ebiz.audit.service import record
from ebiz.extensions import db
from tests.factories import csrf_from, make_counter, make_user, sign_in


def _admin(client):
    admin = make_user(role=Role.ADMIN)
    sign_in(client, admin)
    return admin


def test_admin_searches_users_by_name_email_and_identity_number(client):
    _admin(client)
    make_user(full_name="Nurul Huda binti Ali", email="nurul@contoh.my", mykad="900101145678")
    make_user(kind=Kind.FOREIGNER, full_name="John Smith", passport_no="K1234567")
    make_user(kind=Kind.COMPANY, company_name="Ukur Tepat Sdn. Bhd.", company_reg_no="201901012345")
    for q, expected in (("nurul huda", "nurul@contoh.my"), ("NURUL@contoh", "nurul@contoh.my"),
                        ("900101-14-5678", "nurul@contoh.my"), ("k1234567", "John Smith"),
                        ("201901012345", "Ukur Tepat"), ("ukur tepat", "Ukur Tepat")):
        html = client.get("/admin/users", query_string={"q": q}).get_data(as_text=True)
        assert expected in html, q
    html = client.get("/admin/users", query_string={"q": "nurul"}).get_data(as_text=True)
    assert "John Smith" not in html


def test_user_list_is_paginated(client):
    _admin(client)
    for _ in range(27):
        make_user(commit=False)
    db.session.commit()
    first = client.get("/admin/users").get_data(as_text=True)
    assert first.count("/admin/users/") == 25 and "page=2" in first
    second = client.get("/admin/users?page=2").get_data(as_text=True)
    assert second.count("/admin/users/") == 3


def test_disable_ends_the_users_sessions_and_is_audited(app, client):
    admin = _admin(client)
    user = make_user()
    theirs = app.test_client()
    sign_in(theirs, user)
    page = client.get(f"/admin/users/{user.id}")
    r = client.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf_from(page.data), "active": "0"})
    assert r.status_code == 302
    assert theirs.get("/account/").status_code == 302  # signed out
    db.session.refresh(user)
    assert not user.active
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.disabled"))
    assert ev.actor_id == admin.id and ev.target_id == str(user.id)
    client.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf_from(page.data), "active": "1"})
    db.session.refresh(user)
    assert user.active
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.enabled"))


def test_assign_counter_staff_role_needs_a_counter(client):
    _admin(client)
    counter = make_counter("SGR")
    user = make_user()
    page = client.get(f"/admin/users/{user.id}")
    r = client.post(f"/admin/users/{user.id}/role", data={"csrf_token": csrf_from(page.data),
                                                           "role": Role.COUNTER, "counter_id": ""})
    assert r.status_code == 400 and "choose one" in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.role == Role.CUSTOMER
    r = client.post(f"/admin/users/{user.id}/role", data={"csrf_token": csrf_from(page.data),
                                                           "role": Role.COUNTER, "counter_id": str(counter.id)})
    assert r.status_code == 302
    db.session.refresh(user)
    assert (user.role, user.counter_id) == (Role.COUNTER, counter.id)
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.role_changed"))
    assert ev.details["new_role"] == Role.COUNTER and ev.details["old_role"] == Role.CUSTOMER


def test_admin_cannot_demote_or_disable_themselves(client):
    admin = _admin(client)
    page = client.get("/admin/users")
    client.post(f"/admin/users/{admin.id}/active", data={"csrf_token": csrf_from(page.data), "active": "0"})
    client.post(f"/admin/users/{admin.id}/role", data={"csrf_token": csrf_from(page.data), "role": "customer"})
    db.session.refresh(admin)
    assert admin.active and admin.role == Role.ADMIN


def test_only_admins_use_the_console(app):
    counter = make_counter("HQ")
    for role in (Role.SUPPORT, Role.COUNTER):
        client = app.test_client()
        sign_in(client, make_user(role=role, counter=counter if role == Role.COUNTER else None))
        target = make_user()
        assert client.get("/admin/users").status_code == 403
        assert client.get("/admin/audit/").status_code == 403
        page = client.get("/account/")
        r = client.post(f"/admin/users/{target.id}/active", data={"csrf_token": csrf_from(page.data), "active": "0"})
        assert r.status_code == 403
        db.session.refresh(target)
        assert target.active


def test_support_agent_looks_up_customers(client):
    sign_in(client, make_user(role=Role.SUPPORT))
    make_user(email="pelanggan@contoh.my", tier=Tier.PRIMARY)
    html = client.get("/admin/support", query_string={"q": "pelanggan@contoh.my"},
                      follow_redirects=True).get_data(as_text=True)
    assert "pelanggan@contoh.my" in html


def test_audit_log_filters(client):
    admin = _admin(client)
    other = make_user()
    record("orders.paid", actor=other, target_type="Order", target_id="EBZ-ORD-AAAA-BBBB")
    record("account.disabled", actor=admin, target=other)
    db.session.commit()
    page = client.get("/admin/audit/")
    assert "orders.paid" in page.get_data(as_text=True)
    html = client.get("/admin/audit/", query_string={"action": "account."}).get_data(as_text=True)
    assert "account.disabled" in html and "orders.paid" not in html
    html = client.get("/admin/audit/", query_string={"actor": other.email}).get_data(as_text=True)
    assert "orders.paid" in html and "account.disabled" not in html
    html = client.get("/admin/audit/", query_string={"target_type": "Order", "target_id": "EBZ-ORD-AAAA-BBBB"})
    assert "orders.paid" in html.get_data(as_text=True)
    html = client.get("/admin/audit/", query_string={"actor": "nobody@contoh.my"}).get_data(as_text=True)
    assert "orders.paid" not in html
    html = client.get("/admin/audit/", query_string={"since": "2000-01-01", "until": "2000-01-02"}).get_data(
        as_text=True)
    assert "orders.paid" not in html and "account.disabled" not in html
    assert db.session.scalar(select(User).where(User.id == admin.id))


def test_admin_resets_a_lost_authenticator(app, client):
    _admin(client)
    staff = make_user(role=Role.SUPPORT)
    theirs = app.test_client()
    sign_in(theirs, staff)
    page = client.get(f"/admin/users/{staff.id}")
    assert 'data-testid="mfa-reset"' in page.get_data(as_text=True)
    client.post(f"/admin/users/{staff.id}/mfa-reset", data={"csrf_token": csrf_from(page.data)})
    db.session.refresh(staff)
    assert not staff.mfa_enabled and staff.totp_secret is None
    assert theirs.get("/account/").status_code == 302  # signed out
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.mfa_reset"))
    # Next sign-in: password, then enrolment before any staff page.
    again = app.test_client()
    r = sign_in(again, staff)
    assert r.headers["Location"] == "/account/mfa"
    assert again.get("/admin/support").status_code == 302
