"""Cart, tier rules, checkout (reservations, snapshots, invoice, licences) and its refusals."""

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.catalog.models import Product, TrainingSession
from ebiz.errors import Conflict, EbizError, TierRequired, ValidationError
from ebiz.extensions import db
from ebiz.licensing.models import LicenceAcceptance
from ebiz.notifications.models import OutboxMessage
from ebiz.orders import service
from ebiz.orders.models import CartItem, Invoice, Order
from tests.factories import make_counter, make_user
from tests.orders.helpers import accepted_for, digital_product, extraction_service, printed_product, training


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_regular_customer_is_told_why_and_how_to_upgrade(app):
    user = make_user(tier=Tier.REGULAR)
    for product in (digital_product(), extraction_service()):
        for lang, words in (("en", ("counter", "Primary")), ("ms", ("kaunter", "Pengguna Utama"))):
            with force_locale(lang):
                with pytest.raises(TierRequired) as exc:
                    service.add_to_cart(user, product.id)
                assert all(w in str(exc.value.message) for w in words)
    assert count(CartItem) == 0
    # ...but may buy printed products and register for training.
    service.add_to_cart(user, printed_product().id, quantity=2)
    _p, session = training()
    service.add_to_cart(user, session.product_id, session_id=session.id)
    db.session.commit()
    assert count(CartItem) == 2


def test_restricted_product_needs_approved_access(app):
    from ebiz.catalog.service import grant_restricted_access

    user = make_user(tier=Tier.PRIMARY)
    product = digital_product(restricted=True, licence_key="restricted-data")
    with pytest.raises(EbizError):
        service.add_to_cart(user, product.id)
    assert count(CartItem) == 0
    grant_restricted_access(user.id, product.id, source_ref="APP-1")
    service.add_to_cart(user, product.id)
    db.session.commit()
    assert count(CartItem) == 1


def test_cart_rows_belong_to_their_user(app):
    a, b = make_user(tier=Tier.PRIMARY), make_user(tier=Tier.PRIMARY)
    item = service.add_to_cart(a, printed_product().id)
    db.session.commit()
    with pytest.raises(EbizError):
        service.update_cart_item(b, item.id, 3)
    assert db.session.get(CartItem, item.id).quantity == 1
    service.add_to_cart(a, item.product_id, quantity=2)  # same product: quantity adds up
    assert item.quantity == 3


def _checkout(user, *products, key="k1", counter=None, **kw):
    return service.checkout(user, checkout_key=key, accepted=kw.pop("accepted", accepted_for(*products)),
                            ip="203.0.113.9", user_agent="pytest", collect_counter_id=counter, **kw)


def test_checkout_reserves_snapshots_invoices_and_empties_the_cart(app):
    user = make_user(tier=Tier.PRIMARY)
    counter = make_counter("SEL", is_hq=False)
    dig, prt = digital_product(price_sen=5000), printed_product(price_sen=1500, stock=5)
    trn, session = training(price_sen=30000, seats=3)
    service.add_to_cart(user, dig.id)
    service.add_to_cart(user, prt.id, quantity=2)
    service.add_to_cart(user, trn.id, session_id=session.id)
    order = _checkout(user, dig, prt, trn, counter=counter.id)
    db.session.commit()
    assert order.reference.startswith("EBZ-ORD-") and order.status == "pending_payment"
    assert order.total_sen == 5000 + 2 * 1500 + 30000
    assert db.session.get(Product, prt.id).stock == 3
    assert db.session.get(TrainingSession, session.id).seats_taken == 1
    assert count(CartItem) == 0
    inv = order.invoice
    assert re.fullmatch(r"INV-\d{4}-000001", inv.number) and inv.total_sen == order.total_sen
    assert {ln["name"] for ln in inv.lines} == {dig.name, prt.name, trn.name}
    # Acceptances carry the hash, IP and user agent; the digital line knows its version.
    accs = db.session.scalars(select(LicenceAcceptance)).all()
    assert {a.product_id for a in accs} == {dig.id, trn.id}
    assert all(a.ip == "203.0.113.9" and a.user_agent == "pytest" and len(a.text_sha256) == 64 for a in accs)
    dline = next(ln for ln in order.lines if ln.product_id == dig.id)
    assert dline.version_label == "2026.1" and dline.acceptance_id
    # The invoice was emailed.
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_invoice")).one()
    assert mail.to_address == user.email and inv.number in mail.body_text
    # Later price changes never touch the order or its invoice.
    dig.price_sen = 9999
    db.session.commit()
    db.session.refresh(order)
    assert order.total_sen == 38000 and order.lines[0].unit_price_sen in (5000, 1500, 30000)
    assert db.session.get(Invoice, inv.id).total_sen == 38000


def test_same_checkout_key_gives_the_same_order(app):
    user = make_user(tier=Tier.PRIMARY)
    prt = printed_product(stock=5)
    counter = make_counter("JHR", is_hq=False)
    service.add_to_cart(user, prt.id)
    first = _checkout(user, prt, counter=counter.id)
    db.session.commit()
    again = _checkout(user, prt, counter=counter.id)
    assert again.id == first.id and count(Order) == 1 and count(Invoice) == 1
    assert db.session.get(Product, prt.id).stock == 4


@pytest.mark.parametrize("case", ["no-licence", "stale-licence", "no-counter", "sold-out"])
def test_refused_checkout_writes_nothing(app, case):
    user = make_user(tier=Tier.PRIMARY)
    dig = digital_product()
    prt = printed_product(stock=1)
    counter = make_counter("PRK", is_hq=False)
    service.add_to_cart(user, dig.id)
    service.add_to_cart(user, prt.id)
    db.session.commit()
    accepted = accepted_for(dig)
    kw = {"counter": counter.id, "accepted": accepted}
    if case == "no-licence":
        kw["accepted"] = {}
    elif case == "stale-licence":
        kw["accepted"] = {dig.id: "f" * 64}
    elif case == "no-counter":
        kw["counter"] = None
    else:
        prt.stock = 0
        db.session.commit()
    with pytest.raises((ValidationError, Conflict)):
        _checkout(user, dig, prt, **kw)
    db.session.rollback()
    assert count(Order) == 0 and count(Invoice) == 0 and count(LicenceAcceptance) == 0
    assert count(CartItem) == 2
    assert db.session.get(Product, prt.id).stock == (0 if case == "sold-out" else 1)


def test_invoice_numbers_run_without_gaps_across_orders(app):
    user = make_user(tier=Tier.REGULAR)
    counter = make_counter("KDH", is_hq=False)
    numbers = []
    for i in range(3):
        prt = printed_product(stock=1)
        service.add_to_cart(user, prt.id)
        db.session.commit()
        if i == 1:  # a refused checkout in between must not burn a number
            prt.stock = 0
            db.session.commit()
            with pytest.raises(Conflict):
                _checkout(user, prt, key=f"k{i}x", counter=counter.id)
            db.session.rollback()
            db.session.get(Product, prt.id).stock = 1
            db.session.commit()
        numbers.append(_checkout(user, prt, key=f"k{i}", counter=counter.id).invoice.number)
        db.session.commit()
    assert [int(n[-6:]) for n in numbers] == [1, 2, 3]


def test_an_extraction_says_what_to_extract_and_the_order_line_keeps_it(app):
    user = make_user(tier=Tier.PRIMARY)
    ext = extraction_service()
    for note in (None, "   ", "x" * 2001):
        with pytest.raises(ValidationError) as exc:
            service.add_to_cart(user, ext.id, request_note=note)
        assert exc.value.field == "request_note"
    db.session.rollback()
    assert count(CartItem) == 0
    service.add_to_cart(user, ext.id, request_note="Contours of  Daerah Hulu Langat,\nDXF, for the flood study")
    order = service.checkout(user, checkout_key="k", accepted=accepted_for(ext))
    db.session.commit()
    assert order.lines[0].request_note == "Contours of Daerah Hulu Langat, DXF, for the flood study"
