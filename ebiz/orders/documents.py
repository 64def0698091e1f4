"""The order's documents: its invoice and its credit notes.

Invariants:
- An invoice is issued once, at checkout, with a gapless "INV" number; its lines are a snapshot
  (a remit is a line of its own, naming its application) and an issued invoice never changes.
- Money taken back is a credit note ("CN", gapless) against the invoice, never an edit of it;
  the credit notes of one invoice never add up to more than its total.
"""

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..notifications.service import queue_mail
from ..sequences import next_number
from .models import CreditNote, Invoice, Order


def _issue_invoice(order: Order, user, now) -> Invoice:
    lines = []
    for ln in order.lines:
        lines.append({"sku": ln.sku, "name": ln.name, "name_ms": ln.name_ms, "version": ln.version_label,
                      "session": ln.session_label, "quantity": ln.quantity, "unit_price_sen": ln.unit_price_sen,
                      "line_total_sen": ln.line_total_sen})
        if ln.remit_sen:  # a remit is its own line, naming the application that approved it
            lines.append({"sku": "REMIT", "name": str(_l("Remit %(ref)s", ref=ln.application_ref)), "name_ms": None,
                          "version": None, "session": None, "quantity": 1, "unit_price_sen": -ln.remit_sen,
                          "line_total_sen": -ln.remit_sen, "remit_ref": ln.application_ref})
    inv = Invoice(number=next_number("INV"), order_id=order.id, issued_at=now, billed_name=user.display_name,
                  billed_email=user.email, billed_id_no=user.company_reg_no, lines=lines,
                  total_sen=order.total_sen, due_at=order.expires_at)
    db.session.add(inv)
    db.session.flush()
    return inv


def _mail_invoice(order: Order, invoice: Invoice) -> None:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    queue_mail(invoice.billed_email, _l("Invoice %(number)s for order %(ref)s", number=invoice.number,
                                        ref=order.reference),
               "orders_invoice", order=order, invoice=invoice, order_url=f"{base}/orders/{order.reference}")


def _credit_note(order: Order, amount_sen: int, reason: str, actor) -> CreditNote | None:
    inv = order.invoice
    if inv is None or amount_sen <= 0:
        return None
    credited = sum(cn.amount_sen for cn in inv.credit_notes)
    amount_sen = min(amount_sen, inv.total_sen - credited)
    if amount_sen <= 0:
        return None
    cn = CreditNote(number=next_number("CN"), invoice_id=inv.id, amount_sen=amount_sen, reason=reason,
                    issued_by_id=getattr(actor, "id", None))
    db.session.add(cn)
    db.session.flush()
    return cn


def credit_notes_for(references, since, until) -> list[CreditNote]:
    """Credit notes issued in [since, until) for the orders with these references (a list or a
    subquery), each with its invoice and order, oldest first."""
    return list(db.session.scalars(
        select(CreditNote).join(Invoice, CreditNote.invoice_id == Invoice.id).join(Order, Invoice.order_id == Order.id)
        .where(Order.reference.in_(references), CreditNote.issued_at >= since, CreditNote.issued_at < until)
        .options(contains_eager(CreditNote.invoice).contains_eager(Invoice.order))
        .order_by(CreditNote.issued_at, CreditNote.id)))
