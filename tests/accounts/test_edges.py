"""Edges of the accounts pages: console mail, MFA off audited, `next` that stays home, weak new password,
old email links, Malay errors by default, the Primary tier on the profile."""

import re
from datetime import datetime

import pyotp
import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from ebiz.accounts.models import Tier, User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import PASSWORD, csrf_from, make_user, sign_in

EVIL = ["https://evil.example/", "//evil.example", "//evil.example/x"]


def _events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _error(html: str, field: str) -> str | None:
    """The text of the message shown beside `field`, or None."""
    m = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return m.group(1) if m else None


def _mails(to=None):
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        q = q.where(OutboxMessage.to_address == to)
    return db.session.scalars(q).all()


# -- 1. mail on the console ----------------------------------------------------------------------

def test_without_mail_server_mail_is_printed_and_marked_sent(app, client, capsys, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    user = make_user()
    capsys.readouterr()  # forget anything printed before
    page = client.get("/account/forgot")
    r = client.post("/account/forgot", data={"csrf_token": csrf_from(page.data), "email": user.email})
    assert r.status_code == 302
    err = capsys.readouterr().err
    assert f"mail to {user.email}: Reset your eBiz password" in err
    assert "/account/reset/" in err  # the body is printed too
    db.session.rollback()
    [msg] = _mails(user.email)
    assert msg.subject == "Reset your eBiz password"
    assert (msg.status, msg.attempts, msg.last_error) == ("sent", 1, None) and msg.sent_at is not None


# -- 2. MFA off is audited -------------------------------------------------------------------------

def test_customer_turning_mfa_off_is_audited(client):
    user = make_user(mfa=True)
    sign_in(client, user)  # with the code step
    page = client.get("/account/mfa")
    client.post("/account/mfa/disable", data={"csrf_token": csrf_from(page.data), "current_password": "wrong-one"})
    db.session.rollback()
    assert db.session.get(User, user.id).mfa_enabled
    assert _events("account.mfa_disabled") == []  # refused: nothing recorded
    r = client.post("/account/mfa/disable", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD})
    assert r.status_code == 302
    db.session.rollback()
    assert not db.session.get(User, user.id).mfa_enabled
    [ev] = _events("account.mfa_disabled")
    assert ev.actor_id == user.id and ev.target_id == str(user.id)


# -- 3. no open redirect through `next` --------------------------------------------------------------

@pytest.mark.parametrize("target", EVIL)
def test_language_switch_never_leaves_the_site(client, target):
    page = client.get("/")
    r = client.post("/language", data={"csrf_token": csrf_from(page.data), "lang": "en", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "evil.example" not in r.headers["Location"]


def test_language_switch_follows_a_local_next(client):
    page = client.get("/")
    r = client.post("/language", data={"csrf_token": csrf_from(page.data), "lang": "en", "next": "/catalog/"})
    assert r.headers["Location"] == "/catalog/"


@pytest.mark.parametrize("target", EVIL)
def test_mfa_setup_never_leaves_the_site(client, target):
    user = make_user()
    sign_in(client, user)
    page = client.get("/account/mfa", query_string={"next": target}).get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    r = client.post("/account/mfa", query_string={"next": target},
                    data={"csrf_token": csrf_from(page), "current_password": PASSWORD,
                          "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 302 and r.headers["Location"] == "/account/"
    db.session.rollback()
    assert db.session.get(User, user.id).mfa_enabled  # the enrolment itself went through


# -- 4. weak new password ----------------------------------------------------------------------------

def test_change_password_refuses_a_weak_one_and_the_old_one_still_works(app, client):
    user = make_user()
    sign_in(client, user)
    before = (user.password_hash, user.session_version)
    page = client.get("/account/password")
    r = client.post("/account/password", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD,
                                                "new_password": "password123", "confirm": "password123"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "too easy to guess" in (_error(html, "new_password") or "")
    db.session.rollback()
    fresh = db.session.get(User, user.id)
    assert (fresh.password_hash, fresh.session_version) == before
    assert _events("account.password_changed") == [] and _mails() == []
    assert client.get("/account/").status_code == 200  # still signed in here
    other = app.test_client()
    assert sign_in(other, fresh).headers["Location"] == "/account/"  # the old password works
    weak = app.test_client()
    page = weak.get("/account/login")
    r = weak.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": user.email,
                                          "password": "password123"})
    assert r.status_code == 200 and weak.get("/account/").status_code == 302


# -- 5. an old email-change link -----------------------------------------------------------------------

_REAL_TIMESTAMP = TimestampSigner.get_timestamp


def _clock_ahead(monkeypatch, seconds: int) -> None:
    """Signed tokens (itsdangerous) read the time as `seconds` later than now."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: _REAL_TIMESTAMP(self) + seconds)


def test_email_change_link_older_than_its_max_age_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_CHANGE_MAX_AGE", 600)
    user = make_user(email="lama@contoh.my")
    sign_in(client, user)
    page = client.get("/account/email")
    client.post("/account/email", data={"csrf_token": csrf_from(page.data), "new_email": "baru@contoh.my",
                                        "current_password": PASSWORD})
    [confirm] = _mails("baru@contoh.my")
    path = re.search(r"http://localhost(/\S+)", confirm.body_text).group(1)
    _clock_ahead(monkeypatch, 601)
    page = client.get(path)
    r = client.post(path, data={"csrf_token": csrf_from(page.data)}, follow_redirects=True)
    assert "This link has expired" in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(User, user.id).email == "lama@contoh.my"
    assert _events("account.email_changed") == []
    assert len(_mails("lama@contoh.my")) == 1  # only the notice of the request
    # The same link within its age is accepted: the refusal above was for its age alone.
    _clock_ahead(monkeypatch, 1)
    r = client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    assert r.status_code == 302
    db.session.rollback()
    assert db.session.get(User, user.id).email == "baru@contoh.my"


# -- 6. Malay by default -------------------------------------------------------------------------------

def test_registration_error_in_malay_by_default(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "ms")  # the site's default (see conftest.py)
    client.delete_cookie("lang")
    page = client.get("/account/register")
    r = client.post("/account/register", data={
        "csrf_token": csrf_from(page.data), "kind": "individual", "full_name": "Siti Aminah",
        "email": "siti@contoh.my", "mykad": "abc", "password": "Peta-Ukur-Tanah-2026",
        "confirm": "Peta-Ukur-Tanah-2026"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and '<html lang="ms">' in html
    assert _error(html, "mykad") == "Nombor MyKad mempunyai 12 digit, contohnya 900101-14-5678."
    assert "A MyKad number has 12 digits" not in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


# -- 7. the Primary tier on the profile ------------------------------------------------------------------

def test_primary_customer_sees_the_tier_and_what_it_allows(client):
    user = make_user(tier=Tier.PRIMARY, primary_verified_at=datetime(2026, 3, 2, 2, 0))
    sign_in(client, user)
    html = client.get("/account/").get_data(as_text=True)
    section = re.search(r'<section class="panel tier" data-testid="tier">(.*?)</section>', html, re.S).group(1)
    assert '<span class="badge primary">Primary</span>' in section
    assert "You may buy digital data and hold a prepaid wallet." in section
    assert "verified at a counter on 02/03/2026" in section  # 10:00 in Kuala Lumpur
    assert "Regular" not in section and "How to become Primary" not in section


def test_regular_customer_is_not_shown_as_primary(client):
    sign_in(client, make_user())
    html = client.get("/account/").get_data(as_text=True)
    section = re.search(r'data-testid="tier">(.*?)</section>', html, re.S).group(1)
    assert 'badge primary' not in section and "Regular" in section and "How to become Primary" in section
