"""Remit lines at checkout (percentage, fixed, zero total), the priced checkout, and the licence it leads to."""

from datetime import timedelta

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.applications import service
from ebiz.applications.models import Application, State
from ebiz.clock import utcnow
from ebiz.errors import EbizError
from ebiz.extensions import db
from ebiz.licensing.models import LicenceGrant
from ebiz.licensing.service import get_licence
from ebiz.orders import service as orders
from ebiz.orders.models import CartItem, Invoice, Order
from ebiz.wallet import service as wallet
from tests.factories import login_session, make_user
from tests.orders.helpers import fund

from .helpers import approved, restricted_product, submitted


def _people():
    return make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN), make_user(role=Role.ADMIN)


def _checkout(user, *products, key="k1"):
    order = orders.checkout(user, checkout_key=key,
                            accepted={p.id: get_licence(p.licence_key).sha256 for p in products})
    db.session.commit()
    return order


def _remit_app(user, a, b, product, kind, value, copies=1):
    app_ = submitted(user, product, remit=True, category="public_university")
    service.recommend(app_.token, b, recommendation="approve", notes="Research")
    service.approve(app_.token, a, copies={product.id: copies}, valid_until=utcnow() + timedelta(days=30),
                    conditions="Research use only", remit_kind=kind, remit_value=value)
    db.session.commit()
    return app_


@pytest.mark.parametrize("kind,value,price,remit", [
    ("percent", 50, 12345, 6173),  # half of RM 123.45, to the nearest sen (61.725 -> 61.73)
    ("percent", 10, 5000, 500),
    ("fixed", 2000, 5000, 2000),  # RM 20.00 off
    ("fixed", 9000, 5000, 5000),  # never more than the price: a zero line
])
def test_a_remit_is_its_own_invoice_line_with_its_reference(app, kind, value, price, remit):
    user, a, b = _people()
    p = restricted_product(price_sen=price)
    app_ = _remit_app(user, a, b, p, kind, value)
    orders.add_approved_to_cart(user, app_.token)
    db.session.commit()
    order = _checkout(user, p)
    assert order.total_sen == price - remit
    line = order.lines[0]
    assert line.line_total_sen == price and line.remit_sen == remit and line.application_ref == app_.reference
    inv = db.session.query(Invoice).one()
    assert inv.total_sen == price - remit
    assert [ln["line_total_sen"] for ln in inv.lines] == [price, -remit]
    assert inv.lines[1]["remit_ref"] == app_.reference and app_.reference in inv.lines[1]["name"]
    assert sum(ln["line_total_sen"] for ln in inv.lines) == inv.total_sen


def test_a_zero_total_completes_without_payment_with_an_invoice_and_a_zero_receipt(app, client):
    user, a, b = _people()
    p = restricted_product(price_sen=8000)
    app_ = _remit_app(user, a, b, p, "percent", 100)
    orders.add_approved_to_cart(user, app_.token)
    db.session.commit()
    order = _checkout(user, p)
    assert order.total_sen == 0 and order.invoice.total_sen == 0
    intent, url = orders.pay(user, order, method="wallet", idempotency_key="free-1")
    db.session.commit()
    assert intent is None and url is None
    order = db.session.get(Order, order.id)
    assert order.status in ("paid", "fulfilled") and order.payment_method == "free"
    assert order.receipt_no.startswith("RCP-")
    assert wallet.balance(user) == 0
    grant = db.session.query(LicenceGrant).one()
    assert grant.application_ref == app_.reference
    login_session(client, user)
    r = client.get(f"/orders/{order.reference}/invoice")
    assert r.status_code == 200 and app_.reference.encode() in r.data and b"-RM 80.00" in r.data
    r = client.get(f"/orders/{order.reference}/invoice.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    r.close()
    r = client.get(f"/orders/{order.reference}/receipt")
    assert r.status_code == 200 and order.receipt_no.encode() in r.data and b"RM 0.00" in r.data
    other = make_user(tier=Tier.PRIMARY)
    login_session(client, other)
    assert client.get(f"/orders/{order.reference}/receipt").status_code == 404


def test_buying_the_last_copy_and_paying_issues_a_licence_with_the_reference_and_conditions(app, client):
    user, a, b = _people()
    p = restricted_product(price_sen=3000)
    app_ = approved(user, a, b, p, copies=1)
    fund(user, 10000)
    login_session(client, user)
    assert client.post(f"/orders/from-application/{app_.token}").status_code == 400  # CSRF
    assert db.session.query(CartItem).count() == 0
    app.config["WTF_CSRF_ENABLED"] = False
    r = client.post(f"/orders/from-application/{app_.token}")
    assert r.status_code == 302 and db.session.query(CartItem).count() == 1
    order = _checkout(user, p)
    assert db.session.get(Application, app_.id).state == State.USED
    orders.pay(user, order, method="wallet", idempotency_key="pay-1")  # the last copy is still payable
    db.session.commit()
    assert wallet.balance(user) == 7000
    grant = db.session.query(LicenceGrant).one()
    assert grant.application_ref == app_.reference and grant.conditions == "Not for redistribution"
    r = client.get(f"/licences/{grant.number}")
    assert app_.reference.encode() in r.data and b"Not for redistribution" in r.data
    r = client.get(f"/verify/{grant.number}")
    assert app_.reference.encode() in r.data and b"Not for redistribution" in r.data


def test_only_the_applicant_can_use_the_priced_checkout(app, client):
    user, a, b = _people()
    p = restricted_product()
    app_ = approved(user, a, b, p)
    stranger = make_user(tier=Tier.PRIMARY)
    with pytest.raises(EbizError):
        orders.add_approved_to_cart(stranger, app_.token)
    db.session.rollback()
    app.config["WTF_CSRF_ENABLED"] = False
    login_session(client, stranger)
    assert client.post(f"/orders/from-application/{app_.token}").status_code == 404
    assert db.session.query(CartItem).count() == 0


def test_an_unpaid_order_that_expires_gives_its_copies_back(app):
    user, a, b = _people()
    p = restricted_product()
    app_ = approved(user, a, b, p, copies=1)
    orders.add_to_cart(user, p.id)
    order = _checkout(user, p)
    assert db.session.get(Application, app_.id).state == State.USED
    orders.expire_one(order.id, now=utcnow() + timedelta(days=3))
    db.session.commit()
    app_ = db.session.get(Application, app_.id)
    assert app_.state == State.APPROVED and app_.items[0].copies_used == 0
    orders.add_to_cart(user, p.id)  # the approval can be used again
    db.session.commit()


def test_a_remit_alone_for_an_ordinary_product_and_an_individual_is_not_eligible(app):
    from datetime import date

    from tests.factories import make_product

    from .helpers import attach

    user, a, b = _people()
    p = make_product(price_sen=10000)  # not restricted: bought directly, a remit lowers its price
    kw = dict(product_ids=[p.id], wants_data=False, wants_remit=True, purpose="Thesis research",
              agency="Universiti Teknologi Malaysia", intended_use="Research", area_state="Johor",
              period_from=date(2026, 1, 1), period_to=date(2026, 12, 31), declaration=True)
    refused = service.save_draft(user, applicant_category="individual", **kw)
    db.session.commit()
    attach(refused, user)
    with pytest.raises(EbizError):
        service.submit(refused.token, user)
    db.session.rollback()
    assert db.session.get(Application, refused.id).state == State.DRAFT
    app_ = service.save_draft(user, applicant_category="public_university", **kw)
    db.session.commit()
    attach(app_, user)
    service.submit(app_.token, user)
    service.recommend(app_.token, b, recommendation="approve", notes="Research")
    service.approve(app_.token, a, copies={p.id: 1}, valid_until=utcnow() + timedelta(days=30),
                    conditions="Research only", remit_kind="percent", remit_value=25)
    db.session.commit()
    orders.add_to_cart(user, p.id)
    order = _checkout(user, p)
    assert order.total_sen == 7500 and order.lines[0].remit_sen == 2500
