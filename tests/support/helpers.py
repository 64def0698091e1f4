"""Setting up tickets for the support tests."""

import io

from ebiz.extensions import db
from ebiz.support import service

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(data: bytes = PDF, name: str = "doc.pdf", identity: bool = False) -> service.Upload:
    return service.Upload(io.BytesIO(data), name, identity)


def open_ticket(customer, *, category: str = "payment", subject: str = "Payment shown unpaid",
                body: str = "I paid but the order says unpaid.", uploads=None, **kw):
    ticket = service.open_ticket(customer=customer, name="", email=None, category=category, subject=subject,
                                 body=body, locale=kw.pop("locale", "en"), uploads=uploads, **kw)
    db.session.commit()
    return ticket


def paid_order_intent(user):
    """An order of `user` paid online (the gateway's answer applied): its payment intent."""
    import secrets

    from ebiz.orders import service as orders
    from tests.orders.helpers import accepted_for, gateway_paid, pay_online, training

    trn, session = training(price_sen=30000)
    orders.add_to_cart(user, trn.id, session_id=session.id)
    order = orders.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(trn), ip="127.0.0.1",
                            user_agent="pytest")
    db.session.commit()
    intent = pay_online(order, "fpx")
    assert gateway_paid(intent) == "applied"
    return intent
