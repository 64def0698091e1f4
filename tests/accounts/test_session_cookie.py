"""The session cookie is re-signed when the session changes or its refresh step has passed."""

import time

from ebiz.sessions import STAMP
from tests.factories import PASSWORD, csrf_from, make_user


def _signed_in(app):
    user = make_user()
    client = app.test_client()
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": user.email,
                                            "password": PASSWORD})
    assert r.status_code == 302 and "session=" in r.headers.get("Set-Cookie", "")
    client.get("/account/")  # the first page after sign-in stores the fresh session's CSRF token
    return client


def _sets_session_cookie(response) -> bool:
    return any(h.startswith(("session=",)) for h in response.headers.getlist("Set-Cookie"))


def test_an_unchanged_session_keeps_its_cookie_within_the_step(app):
    client = _signed_in(app)
    r = client.get("/account/")
    assert r.status_code == 200 and not _sets_session_cookie(r)


def test_the_cookie_is_re_signed_once_the_step_has_passed(app, monkeypatch):
    client = _signed_in(app)
    with client.session_transaction() as s:
        first = s[STAMP]
    monkeypatch.setattr(time, "time", lambda: first + app.config["SESSION_REFRESH_SECONDS"] + 1)
    r = client.get("/account/")
    assert r.status_code == 200 and _sets_session_cookie(r)
    with client.session_transaction() as s:
        assert s[STAMP] == first + app.config["SESSION_REFRESH_SECONDS"] + 1
    assert client.get("/account/").status_code == 200  # still signed in on the re-signed cookie


def test_a_changed_session_is_always_sent_and_sign_out_clears_it(app):
    client = _signed_in(app)
    page = client.get("/account/")
    r = client.post("/account/logout", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 302 and _sets_session_cookie(r)
    assert client.get("/account/").status_code == 302  # back to the sign-in page
