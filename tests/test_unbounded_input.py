"""Input that once gave a 500 or was taken at face value (issue 11 §2): control characters in a
`next` target, a NUL in a signed gateway message, bodies of any size, Python's number syntax
as an amount or a count, and `%`/`_` typed into a search."""

import io
import json
import os

from sqlalchemy import func, select

from config import Config
from ebiz.accounts.models import Role
from ebiz.accounts.search import user_search
from ebiz.audit import service as audit
from ebiz.audit.models import AuditEvent
from ebiz.delivery.models import ProductFile
from ebiz.extensions import db
from ebiz.money import MoneyFormatError, parse_ringgit
from ebiz.orders.models import CartItem
from ebiz.payments.models import PaymentEvent, PaymentIntent
from ebiz.payments.signing import sign
from tests.applications.helpers import PDF, draft, restricted_product
from tests.factories import PASSWORD, csrf_from, login_session, make_product, make_user

BAD_NEXTS = ("/orders/\r\nSet-Cookie: a=b", "/orders/\nx", "/\r/evil.example", "/\t/evil.example",
             "/orders/\x7f")


def test_a_next_with_a_control_character_is_dropped_everywhere(app, client):
    for target in BAD_NEXTS:
        token = csrf_from(client.get("/").data)
        r = client.post("/language", data={"csrf_token": token, "lang": "en", "next": target})
        assert r.status_code == 302 and r.headers["Location"] == "/", repr(target)
    user = make_user()
    login_session(client, user)
    product = make_product()
    for target in BAD_NEXTS:
        token = csrf_from(client.get("/orders/cart").data)
        r = client.post("/orders/cart/add", data={"csrf_token": token, "product_id": "abc", "next": target})
        assert r.status_code == 302 and r.headers["Location"] == "/orders/cart", repr(target)
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0
    del product
    client = app.test_client()
    for target in BAD_NEXTS:
        client.delete_cookie("session")
        url = "/account/login?" + "next=" + "".join(f"%{b:02X}" for b in target.encode())
        page = client.get(url)
        r = client.post(url, data={"csrf_token": csrf_from(page.data), "login": user.email, "password": PASSWORD})
        assert r.status_code == 302, repr(target)
        assert "\r" not in r.headers["Location"] and "\n" not in r.headers["Location"]
        assert not r.headers["Location"].startswith("/orders/"), repr(target)
    # what was fine stays fine
    token = csrf_from(client.get("/").data)
    r = client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/catalog/?q=peta"})
    assert r.headers["Location"] == "/catalog/?q=peta"


def test_a_signed_callback_with_a_nul_in_its_reference_is_refused_as_malformed(app, client):
    for ref in ("EBZ-PAY-\x00AAAA", "EBZ-PAY-AAAA\n", "x" * 5000):
        body = json.dumps({"merchant_ref": ref, "status_code": "00", "amount": "10.00", "currency": "MYR",
                           "txn_id": "T1"}).encode()
        r = client.post("/payments/callback/sandbox", data=body, headers={
            "X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], body),
            "Content-Type": "application/json"})
        assert r.status_code == 400 and r.get_json() == {"status": "rejected"}
    db.session.rollback()
    events = db.session.scalars(select(PaymentEvent)).all()
    assert [(e.outcome, e.details["reason"]) for e in events] == [("rejected", "malformed")] * 3
    assert db.session.scalar(select(func.count()).select_from(PaymentIntent)) == 0


def test_a_nul_in_a_header_is_refused(app, client):
    user = make_user(tier="primary")
    login_session(client, user)
    product = make_product()
    token = csrf_from(client.get("/orders/cart").data)
    client.post("/orders/cart/add", data={"csrf_token": token, "product_id": str(product.id)})
    from ebiz.licensing.service import get_licence

    ticked = {f"licence_{product.id}": get_licence(product.licence_key).sha256} if product.licence_key else {}
    r = client.post("/orders/checkout", data={"csrf_token": token, "checkout_key": "k", **ticked},
                    headers={"User-Agent": "Mozilla\x00"})
    assert r.status_code == 400
    from ebiz.orders.models import Order

    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_ordinary_requests_have_a_small_body_limit(app, client):
    assert Config.MAX_CONTENT_LENGTH <= 1024 * 1024  # the default: a few hundred KB, not 2 GiB
    token = csrf_from(client.get("/account/login").data)
    r = client.post("/account/login", data={"csrf_token": token, "login": "a@b.my", "password": "x",
                                            "padding": "x" * (Config.MAX_CONTENT_LENGTH + 1)})
    assert r.status_code == 413
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_only_staff_upload_views_take_a_large_body(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)  # small, so the test's bodies stay small
    product = make_product()
    version = product.versions[0]
    url = f"/downloads/staff/versions/{version.id}/files"
    body = os.urandom(150_000)
    customer = make_user()
    login_session(client, customer)
    token = csrf_from(client.get("/").data)
    r = client.post(url, data={"csrf_token": token, "file": (io.BytesIO(body), "parcels.zip")},
                    content_type="multipart/form-data")
    assert r.status_code == 413  # the view's larger limit is for signed-in staff only
    r = client.post("/orders/cart/add", data={"csrf_token": token, "product_id": str(product.id),
                                              "next": "/" + "x" * 150_000})
    assert r.status_code == 413
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ProductFile)) == 0
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0
    client = app.test_client()
    login_session(client, make_user(role=Role.ADMIN))
    page = client.get(url)
    r = client.post(url, data={"csrf_token": csrf_from(page.data), "file": (io.BytesIO(body), "parcels.zip")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    db.session.rollback()
    assert db.session.scalar(select(ProductFile.size)) == len(body)


def test_python_number_syntax_is_not_an_amount_or_a_number(app, client):
    for text in ("1_000", "1e3", "١٢", "+5", "Infinity", "0x10", "1 000", "12.5.0", "²"):
        try:
            parse_ringgit(text)
        except MoneyFormatError:
            continue
        raise AssertionError(f"{text!r} was read as an amount")
    assert parse_ringgit(" RM 1,000.5 ") == 100050 and parse_ringgit(".5") == 50 and parse_ringgit("12.") == 1200
    user = make_user(tier="primary")
    login_session(client, user)
    client.set_cookie("lang", "en")
    token = csrf_from(client.get("/wallet/topup").data)
    r = client.post("/wallet/topup", data={"csrf_token": token, "amount": "1_000", "method": "card"})
    assert r.status_code == 200 and "Enter an amount" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PaymentIntent)) == 0
    product = make_product()
    for product_id in (f"0_{product.id}", f"+{product.id}", f"{product.id}.0"):
        r = client.post("/orders/cart/add", data={"csrf_token": token, "product_id": product_id})
        assert r.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0
    assert client.get("/orders/?page=1_0").status_code == 200


def test_percent_and_underscore_in_a_search_match_themselves(app, client):
    plain = make_user(full_name="Aminah binti Ali", email="aminah@example.my")
    odd = make_user(full_name="Ah_Kow 100%", email="ah_kow@example.my")
    make_user(full_name="Ahxkow", email="ahxkow@example.my")  # "ah_kow" must not find "ahxkow"

    def found(q):
        return {u.id for u in db.session.scalars(user_search(q))}

    assert found("%") == found("_") == found("%%%") == found("___") == set()  # no wildcards, ever
    assert found("ah_kow@") == {odd.id}  # "_" is itself: not Ahxkow
    assert plain.id in found("aminah")
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    page = client.get("/admin/users?q=%25%25%25").get_data(as_text=True)
    assert "Ah_Kow 100%" not in page and "Aminah binti Ali" not in page
    audit.record("wallet.topup", target_type="User", target_id=plain.id)
    audit.record("walletXtopup", target_type="User", target_id=plain.id)
    db.session.commit()
    assert [e.action for e in db.session.scalars(audit.search(action="wallet_"))] == []
    assert [e.action for e in db.session.scalars(audit.search(action="wallet."))] == ["wallet.topup"]


def test_documents_customers_send_may_be_larger_than_an_ordinary_form_but_no_larger(app, client):
    """A customer's supporting document larger than an ordinary form's limit reaches the application
    (the route takes its own limit); the same body to an ordinary form, or a document past its own
    limit, is a 413. (Small limits here: the test client spools bodies over 500 KB to a file.)"""
    app.config.update(MAX_CONTENT_LENGTH=120 * 1024, MAX_FORM_MEMORY_SIZE=100 * 1024,
                      APPLICATIONS_DOCUMENT_MAX_BYTES=300 * 1024)
    user = make_user()
    application = draft(user, restricted_product())
    login_session(client, user)
    token = csrf_from(client.get(f"/applications/{application.token}").data)
    big_pdf = PDF + b"%" + b"0" * (200 * 1024)
    r = client.post(f"/applications/{application.token}/documents",
                    data={"csrf_token": token, "document": (io.BytesIO(big_pdf), "letter.pdf")})
    assert r.status_code in (200, 302), r.status_code
    assert [d.filename for d in db.session.get(type(application), application.id).documents] == ["letter.pdf"]
    r = client.post("/account/edit", data={"csrf_token": token, "full_name": "x" * (200 * 1024)})
    assert r.status_code == 413
    app.config["APPLICATIONS_DOCUMENT_MAX_BYTES"] = 64 * 1024
    r = client.post(f"/applications/{application.token}/documents",
                    data={"csrf_token": token, "document": (io.BytesIO(big_pdf), "letter2.pdf")})
    assert r.status_code == 413
    assert len(db.session.get(type(application), application.id).documents) == 1
