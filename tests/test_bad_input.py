"""Input nobody should send gets a clear answer, never a server error: too long, too large, too far
in time, digits that are not ASCII, a `next` that is not a URL, a signature that is not hex.
(Each case here was once a 500, found by driving every route with such input.)"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.money import MoneyFormatError, parse_ringgit
from ebiz.payments.models import PaymentIntent
from ebiz.payments.sandbox import card_expiry_ok
from ebiz.payments.signing import verify
from tests.factories import csrf_from, login_session, make_product, make_user

HUGE = "99999999999999999999"


def _signed_in(client, **kw):
    user = make_user(**kw)
    login_session(client, user)
    client.set_cookie("lang", "en")
    return user


def test_a_field_longer_than_its_limit_gets_its_message_in_either_language(client):
    for lang, message in (("en", "Field cannot be longer than 254 characters."), ("ms", None)):
        client.set_cookie("lang", lang)
        token = csrf_from(client.get("/account/forgot").data)
        r = client.post("/account/forgot", data={"csrf_token": token, "email": "a" * 300 + "@example.my"})
        assert r.status_code == 200
        if message:
            assert message in r.get_data(as_text=True)


def test_a_next_that_is_not_a_url_goes_home(client):
    token = csrf_from(client.get("/").data)
    r = client.post("/language", data={"csrf_token": token, "lang": "en", "next": "//[x"})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_an_id_too_large_for_the_database_is_not_found(client):
    _signed_in(client, role=Role.ADMIN)
    for path in (f"/admin/users/{HUGE}", f"/catalog/admin/{HUGE}", f"/orders/staff/sessions/{HUGE}/edit",
                 "/admin/users/2147483648"):
        assert client.get(path).status_code == 404, path
    assert client.get("/admin/users/2147483647").status_code == 404  # the largest id: looked up, none


def test_a_page_number_beyond_any_listing_shows_an_empty_page(app, client):
    _signed_in(client, role=Role.ADMIN)
    for path in ("/admin/users", "/admin/audit/"):
        assert client.get(f"{path}?page={HUGE}").status_code == 200, path
    client = app.test_client()
    _signed_in(client)
    for path in ("/orders/", "/payments/history"):
        assert client.get(f"{path}?page={HUGE}").status_code == 200, path


def test_dates_outside_any_sensible_year_are_refused_beside_the_field(app, client):
    _signed_in(client, tier="primary", role=Role.CUSTOMER)
    for query in ("date_from=0001-01-01", "date_to=9999-12-31"):
        page = client.get(f"/wallet/statement?{query}").get_data(as_text=True)
        assert "Enter a date between 1900 and 2100." in page, query
    client = app.test_client()
    _signed_in(client, role=Role.ADMIN)
    for query in ("since=0001-01-01", "until=9999-12-31"):
        assert client.get(f"/admin/audit/?{query}").status_code == 200


def test_an_amount_too_large_to_compute_is_an_amount_too_large(client):
    for text in ("1e1000000", "-1e1000000", "1E+13"):
        with pytest.raises(MoneyFormatError):
            parse_ringgit(text)
    assert parse_ringgit(Decimal("1E+3")) == 100000
    _signed_in(client, tier="primary")
    token = csrf_from(client.get("/wallet/topup").data)
    r = client.post("/wallet/topup", data={"csrf_token": token, "amount": "1e1000000", "method": "card"})
    assert r.status_code == 200 and "Enter an amount" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PaymentIntent)) == 0


def test_digits_that_are_not_ascii_are_not_numbers(app, client):
    admin = _signed_in(client, role=Role.ADMIN)
    target = make_user()
    token = csrf_from(client.get(f"/admin/users/{target.id}").data)
    for counter_id in ("²", HUGE):
        r = client.post(f"/admin/users/{target.id}/role", data={"csrf_token": token, "role": "counter_staff",
                                                                "counter_id": counter_id})
        assert r.status_code == 400 and "counter" in r.get_data(as_text=True).lower(), counter_id
    db.session.expire_all()
    assert db.session.get(type(target), target.id).role == Role.CUSTOMER
    assert not db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.role_changed",
                                                          AuditEvent.actor_id == admin.id))
    client = app.test_client()
    _signed_in(client, tier="primary")
    token = csrf_from(client.get("/orders/cart").data)
    assert client.post("/orders/checkout", data={"csrf_token": token, "checkout_key": "k",
                                                 "licence_²": "x"}).status_code in (200, 302)
    assert client.post("/orders/cart/add", data={"csrf_token": token, "product_id": HUGE}).status_code == 302
    assert not card_expiry_ok("²/30", date(2026, 12, 2)) and not card_expiry_ok("12/²²", date(2026, 12, 2))


def test_a_signature_that_is_not_ascii_is_simply_wrong(client):
    assert verify("secret", b"{}", "é" * 64) is False
    r = client.post("/payments/callback/sandbox", data=b"{}", headers={"X-Sandbox-Signature": "é" * 64,
                                                                        "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500


def test_a_nul_character_is_refused_in_the_address_and_dropped_from_forms(app, client):
    for path in ("/catalog/p/%00", "/catalog/?format=%00", "/orders/%00"):
        assert client.get(path).status_code == 400, path
    token = csrf_from(client.get("/account/login").data)
    r = client.post("/account/login", data={"csrf_token": token, "login": "\x00", "password": "x"})
    assert r.status_code == 200  # the form again, with its message
    admin = make_user(role=Role.ADMIN)
    login_session(client, admin)
    product = make_product()
    version = product.versions[0]
    token = csrf_from(client.get(f"/catalog/admin/versions/{version.id}").data)
    r = client.post(f"/catalog/admin/versions/{version.id}", data={"csrf_token": token, "published": "y",
                                                                    "change_notes": "Fixed\x00 gaps"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(version), version.id).change_notes == "Fixed gaps"
