"""TOTP: staff must use it, customers may; a code works once; enrolment shows the secret once."""

import re

import pyotp
from sqlalchemy import select

from ebiz.accounts.models import Role, User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from tests.factories import PASSWORD, csrf_from, make_counter, make_user, sign_in, totp_code


def _password_step(client, user, password=PASSWORD):
    page = client.get("/account/login")
    return client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": user.email,
                                               "password": password})


def _code_step(client, code):
    page = client.get("/account/login/code")
    return client.post("/account/login/code", data={"csrf_token": csrf_from(page.data), "code": code})


def test_staff_give_a_code_and_land_on_their_home(app):
    counter = make_counter("HQ")
    homes = {Role.ADMIN: "/admin/", Role.SUPPORT: "/support/desk", Role.COUNTER: "/counter/"}
    for role, home in homes.items():
        client = app.test_client()
        user = make_user(role=role, counter=counter if role == Role.COUNTER else None)
        r = _password_step(client, user)
        assert r.headers["Location"] == "/account/login/code"
        assert client.get("/account/").status_code == 302  # not signed in before the code
        r = _code_step(client, totp_code(user))
        assert r.headers["Location"] == home, role
        assert client.get(home).status_code == 200, role


def test_a_code_is_accepted_only_once(app):
    user = make_user(role=Role.ADMIN)
    code = totp_code(user)
    a = app.test_client()
    _password_step(a, user)
    assert _code_step(a, code).status_code == 302
    b = app.test_client()
    _password_step(b, user)
    r = _code_step(b, code)
    assert r.status_code == 200 and "already used" in r.get_data(as_text=True)
    assert b.get("/admin/").status_code == 302
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.signin_failed")) is not None


def test_wrong_code_is_refused(client):
    user = make_user(role=Role.ADMIN)
    _password_step(client, user)
    good = totp_code(user)
    r = _code_step(client, "000000" if good != "000000" else "111111")
    assert 'id="code-error"' in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_staff_without_mfa_must_enrol_before_staff_pages(client):
    user = make_user(role=Role.ADMIN, mfa=False)
    r = _password_step(client, user)
    assert r.headers["Location"] == "/account/mfa"
    r = client.get("/admin/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/account/mfa")
    page = client.get("/account/mfa").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code, made in the app (nothing loaded from outside)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    # The secret is not active yet, and another visit makes a new one (each is shown once).
    db.session.refresh(user)
    assert user.mfa_enabled is False and user.totp_pending_secret == secret
    r = client.post("/account/mfa", data={"csrf_token": csrf_from(page), "current_password": "wrong-password",
                                          "code": pyotp.TOTP(secret).now()})
    assert 'id="current_password-error"' in r.get_data(as_text=True)
    r = client.post("/account/mfa", data={"csrf_token": csrf_from(page), "current_password": PASSWORD,
                                          "code": pyotp.TOTP(secret).now()})
    assert r.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    db.session.refresh(user)
    assert user.mfa_enabled and user.totp_secret == secret and user.totp_pending_secret is None
    assert secret not in client.get("/account/mfa").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.mfa_enabled"))


def test_customer_may_opt_in_and_out(client):
    user = make_user()
    sign_in(client, user)
    page = client.get("/account/mfa").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    client.post("/account/mfa", data={"csrf_token": csrf_from(page), "current_password": PASSWORD,
                                      "code": pyotp.TOTP(secret).now()})
    db.session.refresh(user)
    assert user.mfa_enabled
    # Next sign-in asks for a code.
    other = client.application.test_client()
    assert _password_step(other, user).headers["Location"] == "/account/login/code"
    # Turning it off needs the password.
    page = client.get("/account/mfa")
    client.post("/account/mfa/disable", data={"csrf_token": csrf_from(page.data), "current_password": "nope"})
    db.session.refresh(user)
    assert user.mfa_enabled
    client.post("/account/mfa/disable", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD})
    db.session.refresh(user)
    assert not user.mfa_enabled and user.totp_secret is None


def test_staff_cannot_turn_mfa_off(client):
    user = make_user(role=Role.SUPPORT)
    sign_in(client, user)
    page = client.get("/account/mfa")
    client.post("/account/mfa/disable", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD})
    assert db.session.get(User, user.id).mfa_enabled


def test_customers_cannot_open_staff_pages(client):
    sign_in(client, make_user())
    for url in ("/admin/", "/admin/users", "/admin/audit/", "/admin/support", "/counter/"):
        assert client.get(url).status_code == 403, url


def test_anonymous_users_are_sent_to_sign_in(client):
    r = client.get("/admin/users")
    assert r.status_code == 302 and r.headers["Location"].startswith("/account/login?next=")


def test_the_same_code_raced_from_two_threads_is_accepted_once(app):
    import threading

    from ebiz.accounts import service
    from ebiz.db import begin_write
    from ebiz.errors import EbizError

    user = make_user(role=Role.ADMIN)
    code = totp_code(user)
    user_id = user.id
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        with app.app_context():
            barrier.wait()
            begin_write()  # as a POST request does (SQLite: take the write lock up front)
            try:
                service.verify_totp(db.session.get(User, user_id), code, ip="127.0.0.1")
                outcomes.append("ok")
            except EbizError:
                outcomes.append("refused")
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]


def test_the_code_step_counts_down_the_tries_left_before_the_lockout(app, client):
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=4, LOGIN_LOCKOUT_SECONDS=600, LOGIN_RATE_LIMIT_ACCOUNT="100 per minute")
    user = make_user(role=Role.ADMIN)
    _password_step(client, user)
    good = totp_code(user)
    wrong = "000000" if good != "000000" else "111111"
    said = [re.search(r'id="code-error">([^<]*)<', _code_step(client, wrong).get_data(as_text=True)).group(1)
            for _ in range(3)]
    assert said[0] == "The code is not correct."
    assert said[1].startswith("The code is not correct. Tries left before sign-in is paused for 10 minutes: 2.")
    assert "Tries left before sign-in is paused for 10 minutes: 1." in said[2]
    assert _code_step(client, wrong).status_code == 429
