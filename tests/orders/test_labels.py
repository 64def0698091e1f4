"""What customers and staff read for order and line statuses and payment methods: words in the
page's language (Malay by default, English on request), never the stored codes."""

import re

import pytest
from flask_babel import force_locale

from ebiz.accounts.models import Role, Tier
from ebiz.errors import Conflict
from ebiz.extensions import db
from ebiz.orders import service
from ebiz.orders.models import LINE_STATUS_LABELS, ORDER_STATUS_LABELS, LineStatus, OrderStatus
from tests.factories import make_counter, make_user
from tests.orders.helpers import (
    client_for,
    csrf,
    fund,
    gateway_paid,
    pay_online,
    pay_wallet,
    place,
    printed_product,
)


def visible_text(html: str) -> str:
    """The page's words as a reader sees them (no tags, attributes or scripts)."""
    html = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page(client, path: str, lang: str) -> str:
    client.set_cookie("lang", lang)
    r = client.get(path)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_every_status_has_a_label():
    assert set(ORDER_STATUS_LABELS) == set(OrderStatus)
    assert set(LINE_STATUS_LABELS) == set(LineStatus)
    assert set(service.NO_TRANSITION) == set(OrderStatus)


def test_paid_order_page_in_malay_and_in_english(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    order = place(user, printed_product(price_sen=4000))
    pay_wallet(order)
    assert order.status == OrderStatus.PAID
    client = client_for(app, user)

    ms = page(client, f"/orders/{order.reference}", "ms")
    text = visible_text(ms)
    assert '<html lang="ms">' in ms
    assert "Bayaran berjaya" in text and "Dompet eBiz" in text
    for english in ("Payment successful", "eBiz wallet"):
        assert english not in text
    for code in ("paid", "wallet", "pending_payment"):
        assert not re.search(rf"\b{code}\b", text), code

    en = page(client, f"/orders/{order.reference}", "en")
    text = visible_text(en)
    assert '<html lang="en">' in en
    assert "Payment successful" in text and "eBiz wallet" in text
    assert "Bayaran berjaya" not in text and "Dompet eBiz" not in text

    listing = visible_text(page(client, "/orders/", "ms"))
    assert "Bayaran berjaya" in listing and "Payment successful" not in listing


def test_a_refused_change_is_one_whole_sentence_in_the_readers_language(app):
    user = make_user(tier=Tier.PRIMARY)
    fund(user, 10000)
    order = place(user, printed_product(price_sen=4000))
    pay_wallet(order)
    with pytest.raises(Conflict) as caught:
        service.transition(order, OrderStatus.EXPIRED)
    db.session.rollback()
    with force_locale("en"):
        message = str(caught.value.message)
        assert message == "This order is already paid, so it cannot change this way."
    with force_locale("ms"):
        assert str(caught.value.message) == str(service.NO_TRANSITION[OrderStatus.PAID])
    assert "expired" not in message and "%(" not in message


def test_staff_marking_a_line_reads_as_a_sentence(app):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=1200))
    gateway_paid(pay_online(order, "card"))
    line = order.lines[0]
    client = client_for(app, make_user(role=Role.COUNTER, counter=make_counter("HQ")))
    client.set_cookie("lang", "en")
    token = csrf(client, "/orders/staff")
    r = client.post(f"/orders/staff/lines/{line.id}/mark", data={"csrf_token": token, "to": "ready"},
                    follow_redirects=True)
    text = visible_text(r.get_data(as_text=True))
    assert f"{line.name} is marked ready for collection." in text and "marked ready." not in text
    # Marking it ready again is refused with a sentence naming the move, not the code.
    r = client.post(f"/orders/staff/lines/{line.id}/mark", data={"csrf_token": token, "to": "ready"},
                    follow_redirects=True)
    assert "This line cannot be marked ready for collection now." in r.get_data(as_text=True)
    r = client.post(f"/orders/staff/lines/{line.id}/mark", data={"csrf_token": token, "to": "collected"},
                    follow_redirects=True)
    assert f"{line.name} is marked collected." in visible_text(r.get_data(as_text=True))
