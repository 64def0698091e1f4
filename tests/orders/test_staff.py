"""Staff fulfilment pages: role and TOTP checks, marking printed lines, attaching deliverables (audited)."""

import io
import re

from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.orders.models import Order
from tests.factories import make_counter, make_user
from tests.orders.helpers import (
    client_for,
    extraction_service,
    fund,
    gateway_paid,
    pay_online,
    pay_wallet,
    place,
    printed_product,
)


def _token(client, path):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_customers_and_support_agents_cannot_open_the_fulfilment_desk(app):
    for user in (make_user(tier=Tier.PRIMARY), make_user(role=Role.SUPPORT)):
        client = client_for(app, user)
        assert client.get("/orders/staff").status_code == 403


def test_counter_staff_mark_a_printed_line_ready_then_collected(app):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=1200))
    gateway_paid(pay_online(order, "card"))
    staff = make_user(role=Role.COUNTER, counter=make_counter("HQ"))
    client = client_for(app, staff)
    line_id = order.lines[0].id
    token = _token(client, "/orders/staff")
    for to in ("ready", "collected"):
        r = client.post(f"/orders/staff/lines/{line_id}/mark", data={"csrf_token": token, "to": to})
        assert r.status_code == 302
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "fulfilled"
    found = client.get(f"/orders/staff?ref={order.reference.lower()}")
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/orders/{order.reference}")
    assert order.reference in client.get(found.headers["Location"]).get_data(as_text=True)
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor_id == staff.id))]
    assert "order.line_ready" in actions and "order.line_collected" in actions


def test_admin_attaches_a_deliverable_and_the_customer_is_entitled(app):
    from ebiz.delivery.models import Entitlement

    customer = make_user(tier=Tier.PRIMARY)
    fund(customer, 30000)
    order = place(customer, extraction_service(price_sen=20000))
    pay_wallet(order)
    admin = make_user(role=Role.ADMIN)
    client = client_for(app, admin)
    token = _token(client, "/orders/staff?kind=service")
    r = client.post(f"/orders/staff/lines/{order.lines[0].id}/attach",
                    data={"csrf_token": token, "file": (io.BytesIO(b"x,y\n1,2\n"), "extract.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "fulfilled"
    assert db.session.scalars(select(Entitlement)).one().user_id == customer.id
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.deliverable_attached",
                                                      AuditEvent.actor_id == admin.id)) is not None


def test_credit_note_page_and_pdf_after_cancellation(app):
    customer = make_user(tier=Tier.REGULAR)
    order = place(customer, printed_product(price_sen=1200))
    client = client_for(app, customer)
    token = _token(client, f"/orders/{order.reference}")
    assert client.post(f"/orders/{order.reference}/cancel", data={"csrf_token": token}).status_code == 302
    db.session.rollback()
    order = db.session.get(Order, order.id)
    cn = order.invoice.credit_notes[0]
    page = client.get(f"/orders/{order.reference}/credit-notes/{cn.number}").get_data(as_text=True)
    assert cn.number in page and order.invoice.number in page
    pdf = client.get(f"/orders/{order.reference}/credit-notes/{cn.number}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/orders/{order.reference}/credit-notes/CN-2000-000001").status_code == 404


def test_a_credit_note_without_a_reason_says_who_closed_the_order_in_the_readers_language(app):
    from datetime import timedelta

    from flask_babel import force_locale

    from ebiz.clock import utcnow
    from ebiz.orders import service

    customer, staff = make_user(tier=Tier.REGULAR), make_user(role=Role.ADMIN)
    by_customer, by_staff, expired = (place(customer, printed_product(price_sen=1000)) for _ in range(3))
    service.cancel(by_customer, actor=customer)
    service.cancel(by_staff, actor=staff)
    db.session.commit()
    service.expire_one(expired.id, now=utcnow() + timedelta(days=2))
    db.session.commit()
    shown = {}
    for lang in ("ms", "en"):
        with force_locale(lang):
            shown[lang] = [o.invoice.credit_notes[0].shown_reason for o in (by_customer, by_staff, expired)]
    assert shown["en"] == ["Cancelled by the customer.", "Cancelled by eBiz staff.", "The order expired unpaid."]
    assert shown["ms"] == ["Dibatalkan oleh pelanggan.", "Dibatalkan oleh kakitangan eBiz.",
                           "Pesanan tamat tempoh tanpa dibayar."]
    client = client_for(app, customer)
    cn = by_customer.invoice.credit_notes[0]
    page = client.get(f"/orders/{by_customer.reference}/credit-notes/{cn.number}").get_data(as_text=True)
    assert "Dibatalkan oleh pelanggan." in page and "cancelled by the customer" not in page
