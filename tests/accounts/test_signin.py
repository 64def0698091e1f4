"""Signing in and out: identifiers, lockout, rate limits, sessions, redirects, cookies, CSRF."""

import os
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import ProductionConfig, TestingConfig
from ebiz import create_app
from ebiz.accounts.models import Kind, User
from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.extensions import db, limiter
from tests.factories import PASSWORD, csrf_from, make_user, sign_in
from tests.services import port_open, require_service, wipe


def _try(client, login, password):
    page = client.get("/account/login")
    return client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                               "password": password})


def _actions():
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_sign_in_by_email_mykad_or_passport(app):
    make_user(mykad="900101145678", email="Aminah@Contoh.my")
    make_user(kind=Kind.FOREIGNER, passport_no="K1234567")
    for login in ("AMINAH@contoh.MY", "900101-14-5678", "k1234567"):
        client = app.test_client()
        r = _try(client, login, PASSWORD)
        assert r.status_code == 302 and r.headers["Location"] == "/account/", login
        assert client.get("/account/").status_code == 200
    assert _actions().count("auth.signin") == 3


def test_wrong_password_is_refused_and_audited(client):
    user = make_user()
    r = _try(client, user.email, "Wrong-Password-123")
    assert r.status_code == 200 and 'id="password-error"' in r.get_data(as_text=True)
    assert client.get("/account/").status_code == 302  # not signed in
    assert _actions() == ["auth.signin_failed"]
    _try(client, "nobody@contoh.my", "Wrong-Password-123")
    assert _actions() == ["auth.signin_failed", "auth.signin_failed"]


def test_lockout_after_repeated_failures_says_when_to_retry(app, client):
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_SECONDS=600)
    try:
        user = make_user()
        for _ in range(3):
            _try(client, user.email, "Wrong-Password-123")
        db.session.refresh(user)
        assert user.locked_until and user.locked_until > utcnow() + timedelta(seconds=590)
        # Even the right password is refused while locked, with the time to come back.
        r = _try(client, user.email, PASSWORD)
        assert r.status_code == 429
        assert "Please try again after" in r.get_data(as_text=True)
        assert client.get("/account/").status_code == 302
        assert "auth.lockout" in _actions()
        # When the lock has passed, the right password works and the count starts again.
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert _try(client, user.email, PASSWORD).status_code == 302
        db.session.refresh(user)
        assert user.failed_login_count == 0 and user.locked_until is None
    finally:
        app.config.update(LOGIN_LOCKOUT_THRESHOLD=TestingConfig.LOGIN_LOCKOUT_THRESHOLD,
                          LOGIN_LOCKOUT_SECONDS=TestingConfig.LOGIN_LOCKOUT_SECONDS)


def test_disabled_account_cannot_sign_in(client):
    user = make_user(active=False)
    r = _try(client, user.email, PASSWORD)
    assert r.status_code == 200 and client.get("/account/").status_code == 302


def _rate_limit_checks(app):
    app.config.update(LOGIN_RATE_LIMIT_IP="100 per minute", LOGIN_RATE_LIMIT_ACCOUNT="3 per minute")
    try:
        user = make_user()
        client = app.test_client()
        # Per account: the 4th try at the same account is refused, whatever the password.
        for _ in range(3):
            assert _try(client, user.email, "Wrong-Password-123").status_code == 200
        r = _try(client, user.email, PASSWORD)
        assert r.status_code == 429 and "Retry-After" in r.headers
        assert b"Too many attempts" in r.data
        assert client.get("/account/").status_code == 302
        # ... also from another address, and whichever of the account's identifiers is typed.
        other_ip = app.test_client()
        mykad = f"{user.mykad[:6]}-{user.mykad[6:8]}-{user.mykad[8:]}"
        for login in (user.email.upper(), mykad):
            page = other_ip.get("/account/login")
            r = other_ip.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                                      "password": PASSWORD}, environ_base={"REMOTE_ADDR": "127.0.0.9"})
            assert r.status_code == 429
        # Per IP: one address trying many accounts is stopped too.
        app.config.update(LOGIN_RATE_LIMIT_IP="2 per minute", LOGIN_RATE_LIMIT_ACCOUNT="100 per minute")
        limiter.reset()
        users = [make_user() for _ in range(3)]
        assert _try(client, users[0].email, "Wrong-Password-123").status_code == 200
        assert _try(client, users[1].email, "Wrong-Password-123").status_code == 200
        assert _try(client, users[2].email, PASSWORD).status_code == 429
        # A different address may still sign in.
        fresh = app.test_client()
        page = fresh.get("/account/login")
        r = fresh.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": users[2].email,
                                               "password": PASSWORD}, environ_base={"REMOTE_ADDR": "127.0.0.9"})
        assert r.status_code == 302
    finally:
        app.config.update(LOGIN_RATE_LIMIT_IP=TestingConfig.LOGIN_RATE_LIMIT_IP,
                          LOGIN_RATE_LIMIT_ACCOUNT=TestingConfig.LOGIN_RATE_LIMIT_ACCOUNT)


def test_rate_limits_in_memory(app):
    _rate_limit_checks(app)


def test_rate_limits_on_redis(database_url, _app):  # _app: the tables exist
    if not port_open("127.0.0.1", 6379):
        require_service("Redis", "nothing listens on 127.0.0.1:6379")

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_STORAGE_URI = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        RATELIMIT_KEY_PREFIX = f"ebiz-test-{secrets.token_hex(6)}"  # parallel runs never share counters
        BABEL_DEFAULT_LOCALE = "en"

    # The limiter is one shared extension: put back its memory storage for the other tests afterwards.
    saved = (limiter._storage, limiter._limiter, limiter._key_prefix)
    app = create_app(Config)
    try:
        wipe(app)
        with app.app_context():
            assert type(limiter.storage).__name__ == "RedisStorage"
            _rate_limit_checks(app)
            keys = limiter.storage.storage.keys(f"*{Config.RATELIMIT_KEY_PREFIX}*")
            assert keys  # the counters were in Redis, under this run's prefix
            limiter.reset()
    finally:
        wipe(app)
        with app.app_context():
            db.engine.dispose()
        limiter._storage, limiter._limiter, limiter._key_prefix = saved


def test_session_is_fresh_at_sign_in(client):
    user = make_user()
    client.get("/")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    sign_in(client, user)
    with client.session_transaction() as s:
        assert "planted" not in s and s["_user_id"] == user.get_id()


def test_sign_out_ends_other_sessions(app):
    user = make_user()
    a, b = app.test_client(), app.test_client()
    sign_in(a, user)
    sign_in(b, user)
    assert b.get("/account/").status_code == 200
    a.post("/account/logout", data={"csrf_token": csrf_from(a.get("/account/").data)})
    assert a.get("/account/").status_code == 302
    assert b.get("/account/").status_code == 302


def test_password_change_ends_other_sessions_but_not_this_one(app):
    user = make_user()
    a, b = app.test_client(), app.test_client()
    sign_in(a, user)
    sign_in(b, user)
    page = a.get("/account/password")
    new = "Tanah-Rizab-Melayu-88"
    r = a.post("/account/password", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD,
                                           "new_password": new, "confirm": new})
    assert r.status_code == 302
    assert a.get("/account/").status_code == 200
    assert b.get("/account/").status_code == 302
    assert "account.password_changed" in _actions()
    assert _try(app.test_client(), user.email, new).status_code == 302


def test_password_change_needs_the_current_password(client):
    user = make_user()
    sign_in(client, user)
    before = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    page = client.get("/account/password")
    r = client.post("/account/password", data={"csrf_token": csrf_from(page.data), "current_password": "nope-nope",
                                                "new_password": "Tanah-Rizab-Melayu-88",
                                                "confirm": "Tanah-Rizab-Melayu-88"})
    assert 'id="current_password-error"' in r.get_data(as_text=True)
    assert db.session.scalar(select(User.password_hash).where(User.id == user.id)) == before


def test_password_is_an_argon2_hash(app):
    from ebiz.accounts.passwords import needs_rehash

    user = make_user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    # Outside tests the cost is argon2-cffi's (memory-hard) default, and weaker hashes are redone at sign-in.
    assert ProductionConfig.PASSWORD_HASH_MEMORY_KIB >= 64 * 1024 and ProductionConfig.PASSWORD_HASH_TIME_COST >= 3
    app.config.update(PASSWORD_HASH_MEMORY_KIB=64 * 1024, PASSWORD_HASH_TIME_COST=3)
    try:
        assert needs_rehash(user.password_hash)
    finally:
        app.config.update(PASSWORD_HASH_MEMORY_KIB=TestingConfig.PASSWORD_HASH_MEMORY_KIB,
                          PASSWORD_HASH_TIME_COST=TestingConfig.PASSWORD_HASH_TIME_COST)


def test_csrf_token_is_required(client):
    user = make_user()
    r = client.post("/account/login", data={"login": user.email, "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/account/").status_code == 302
    assert _actions() == []


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x"])
def test_next_never_leaves_the_site(client, target):
    user = make_user()
    page = client.get("/account/login", query_string={"next": target})
    r = client.post("/account/login", query_string={"next": target},
                    data={"csrf_token": csrf_from(page.data), "login": user.email, "password": PASSWORD})
    assert r.headers["Location"] == "/account/"


def test_next_within_the_site_is_followed(client):
    user = make_user()
    page = client.get("/account/login", query_string={"next": "/account/password"})
    r = client.post("/account/login", query_string={"next": "/account/password"},
                    data={"csrf_token": csrf_from(page.data), "login": user.email, "password": PASSWORD})
    assert r.headers["Location"] == "/account/password"


def test_session_cookie_flags(client):
    user = make_user()
    r = sign_in(client, user)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True


def test_secure_cookie_under_production_config(database_url):
    class Config(ProductionConfig):
        SECRET_KEY = "prod-test-secret"
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_STORAGE_URI = "memory://"
        ALLOW_SANDBOX_GATEWAY = True  # as EBIZ_ALLOW_SANDBOX_GATEWAY=1 on staging

    saved = (limiter._storage, limiter._limiter, limiter._key_prefix)
    app = create_app(Config)
    try:
        r = app.test_client().get("/account/login")
        assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    finally:
        with app.app_context():
            db.engine.dispose()
        limiter._storage, limiter._limiter, limiter._key_prefix = saved


def test_security_headers_on_pages(client):
    r = client.get("/account/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]
    assert "<script>" not in r.get_data(as_text=True) and 'style="' not in r.get_data(as_text=True)


# -- issue 11 §3: only failures count; tries left; unknown logins answer alike ------------------------

def test_successful_sign_ins_do_not_count_towards_the_limits(app):
    """Ten ordinary sign-ins in a row used to earn the right password a 429."""
    app.config.update(LOGIN_RATE_LIMIT_IP="3 per minute", LOGIN_RATE_LIMIT_ACCOUNT="3 per minute")
    user = make_user()
    for _ in range(6):
        client = app.test_client()
        assert _try(client, user.email, PASSWORD).status_code == 302
    # Failures still count: three wrong tries and the account's next try is refused.
    client = app.test_client()
    for _ in range(3):
        assert _try(client, user.email, "Wrong-Password-123").status_code == 200
    r = _try(client, user.email, PASSWORD)
    assert r.status_code == 429 and client.get("/account/").status_code == 302


def test_the_code_step_of_a_right_password_is_not_a_failure(app):
    app.config.update(LOGIN_RATE_LIMIT_IP="2 per minute", LOGIN_RATE_LIMIT_ACCOUNT="2 per minute")
    user = make_user(mfa=True)
    for _ in range(4):  # password step and code step, four times over
        sign_in(app.test_client(), user)
        db.session.refresh(user)
        user.totp_last_step = None  # the next sign-in may use the same 30-second code
        db.session.commit()


def _error(html: str) -> str:
    import re

    return re.search(r'id="password-error">([^<]*)<', html).group(1)


def test_few_tries_left_are_counted_down_before_the_lockout(app, client):
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=5, LOGIN_LOCKOUT_SECONDS=900, LOGIN_RATE_LIMIT_ACCOUNT="100 per minute")
    user = make_user()
    errors = [_error(_try(client, user.email, "Wrong-Password-123").get_data(as_text=True)) for _ in range(4)]
    assert errors[0] == errors[1] == "The email, identity number or password is not correct."
    assert "Tries left before sign-in is paused for 15 minutes: 2." in errors[2]
    assert "Tries left before sign-in is paused for 15 minutes: 1." in errors[3]
    r = _try(client, user.email, "Wrong-Password-123")  # the fifth failure locks
    assert r.status_code == 429 and "Please try again after" in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locked_until is not None


def test_an_unknown_login_answers_like_an_account_to_the_last_try(app):
    """Warnings and lockout alike, so neither tells whether an account exists."""
    app.config.update(LOGIN_LOCKOUT_THRESHOLD=4, LOGIN_LOCKOUT_SECONDS=600, LOGIN_RATE_LIMIT_ACCOUNT="100 per minute")
    user = make_user()
    answers = {}
    for login in (user.email, "nobody@contoh.my"):
        client = app.test_client()
        seen = []
        for _ in range(5):
            r = _try(client, login, "Wrong-Password-123")
            seen.append((r.status_code, _error(r.get_data(as_text=True))))
        answers[login] = seen
    assert answers[user.email] == answers["nobody@contoh.my"]
    assert [s for s, _m in answers[user.email]] == [200, 200, 200, 429, 429]
    assert "Tries left before sign-in is paused for 10 minutes: 1." in answers[user.email][2][1]
    # The right password of the real account is still refused while it is locked.
    assert _try(app.test_client(), user.email, PASSWORD).status_code == 429
