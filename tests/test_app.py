"""The house: the factory, security headers, language switch, error pages, money helpers."""

import pytest

from ebiz.money import MoneyFormatError, format_sen, parse_ringgit


def test_home_is_malay_by_default_with_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200
    assert b"lang=\"ms\"" in r.data
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]


def test_404_page_is_friendly(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert b"<html" in r.data


@pytest.mark.parametrize("text,sen", [("12", 1200), ("12.5", 1250), ("12.50", 1250), ("RM 1,234.56", 123456),
                                      ("0.01", 1), (7, 700), ("1,234", 123400), ("12,345,678.9", 1234567890)])
def test_parse_ringgit(text, sen):
    assert parse_ringgit(text) == sen


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.234", "nan", "inf", None, "1e3x",
                                  # commas only between thousands: a decimal comma is not read as 100x
                                  "100,00", "12,50", "1,2,3", ",100", "1,2345", "1,234,"])
def test_parse_ringgit_refuses(text):
    with pytest.raises(MoneyFormatError):
        parse_ringgit(text)


def test_format_sen():
    assert format_sen(123456) == "RM 1,234.56"
    assert format_sen(5) == "RM 0.05"
    assert format_sen(-500) == "-RM 5.00"


def test_error_pages_speak_to_the_user(app, client, monkeypatch):
    from ebiz import main_views
    from tests.factories import make_user, sign_in

    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    r = client.post("/account/login", data={"login": "x", "password": "y"})  # no CSRF token
    assert r.status_code == 400 and b"The request could not be understood" in r.data
    assert b"<html" in client.get("/no-such-page").data
    sign_in(client, make_user())
    r = client.get("/admin/users")
    assert r.status_code == 403 and b"You are not allowed to see this" in r.data

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(main_views, "render_template", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    r = client.get("/")
    assert r.status_code == 500 and b"Something went wrong on our side" in r.data and b"boom" not in r.data


def test_too_many_attempts_page_says_when_to_retry(app, client, monkeypatch):
    from tests.factories import csrf_from

    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    app.config["LOGIN_RATE_LIMIT_IP"] = "1 per minute"
    try:
        page = client.get("/account/login")
        for _ in range(2):
            r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": "a@b.my",
                                                    "password": "wrong-password"})
    finally:
        app.config["LOGIN_RATE_LIMIT_IP"] = "20 per minute"
    assert r.status_code == 429
    assert b"Too many attempts" in r.data and b"You can try again in" in r.data


def test_each_request_has_an_app_context_of_its_own(app):
    """A test client's request shares nothing with the test's app context or another client's request
    (tests/conftest.py OwnContextClient): no sign-in, CSRF token or cached row leaks between them."""
    from flask import g

    from ebiz.extensions import db
    from tests.factories import make_user, sign_in

    user = make_user()
    first, second = app.test_client(), app.test_client()
    sign_in(first, user)
    assert first.get("/account/").status_code == 200
    assert second.get("/account/").status_code == 302  # the first client's sign-in stayed with it
    g._login_user = user  # what Flask-Login caches in `g`, set in the test's own context
    assert second.get("/account/").status_code == 302
    assert "_login_user" not in vars(g) or g._login_user is user  # the request did not touch the test's `g`
    user.full_name = "Changed By The Test"  # the request sees what the test set up: it is committed first
    page = first.get("/account/").get_data(as_text=True)
    assert "Changed By The Test" in page and db.session.get(type(user), user.id).full_name == "Changed By The Test"
