"""Invoice and credit-note PDFs, on the shared `ebiz.pdf.Document` (Unicode fonts)."""

import io

from flask_babel import get_locale
from flask_babel import gettext as _

from ..catalog.service import in_language
from ..clock import format_local
from ..money import format_sen
from ..payments.receipts import agency_issuer, pdf_issuer_block
from ..pdf import Document


def _lines_table(pdf: Document, lines: list[dict], total_sen: int) -> None:
    widths = (95, 15, 35, 35)
    pdf.use(10, bold=True)
    for w, h in zip(widths, (_("Item"), _("Qty"), _("Unit price"), _("Amount")), strict=True):
        pdf.cell(w, 7, h, border=1)
    pdf.ln()
    pdf.use(9)
    for ln in lines:
        label = in_language(ln, "name", str(get_locale())) + (f" ({ln['version']})" if ln.get("version") else "") + \
            (f" - {ln['session']}" if ln.get("session") else "")
        pdf.cell(widths[0], 7, label[:60], border=1)
        pdf.cell(widths[1], 7, str(ln["quantity"]), border=1, align="R")
        pdf.cell(widths[2], 7, format_sen(ln["unit_price_sen"]), border=1, align="R")
        pdf.cell(widths[3], 7, format_sen(ln["line_total_sen"]), border=1, align="R")
        pdf.ln()
    pdf.use(10, bold=True)
    pdf.cell(sum(widths[:3]), 8, _("Total"), border=1, align="R")
    pdf.cell(widths[3], 8, format_sen(total_sen), border=1, align="R")
    pdf.ln(12)


def _billed_to(order, inv) -> list[tuple[str, str]]:
    """As the invoice recorded it; for a company also its number and the representative."""
    rows = [(_("Billed to"), inv.billed_name)]
    if inv.billed_id_no:
        rows.append((_("Company number"), inv.billed_id_no))
        rep = order.user.full_name if order.user else None
        if rep and rep != inv.billed_name:
            rows.append((_("Representative"), rep))
    rows.append((_("Email"), inv.billed_email))
    return rows


def invoice_pdf(order, inv) -> io.BytesIO:
    pdf = Document(_("Invoice %(number)s", number=inv.number))
    pdf_issuer_block(pdf, agency_issuer())
    pdf.kv([
        (_("Invoice number"), inv.number), (_("Issued"), format_local(inv.issued_at)),
        (_("Order"), order.reference), *_billed_to(order, inv),
        (_("Pay before"), format_local(inv.due_at)),
    ])
    _lines_table(pdf, inv.lines, inv.total_sen)
    pdf.use(9)
    pdf.multi_cell(0, 5, _("This invoice is a request for payment and never changes. The receipt is "
                           "issued when payment is received; corrections are made by credit note."),
                   new_x="LMARGIN", new_y="NEXT")
    for cn in inv.credit_notes:
        pdf.multi_cell(0, 5, _("Credit note %(number)s: %(amount)s (%(reason)s)", number=cn.number,
                               amount=format_sen(cn.amount_sen), reason=cn.shown_reason),
                       new_x="LMARGIN", new_y="NEXT")
    return pdf.output_io()


def credit_note_pdf(order, inv, cn) -> io.BytesIO:
    pdf = Document(_("Credit note %(number)s", number=cn.number))
    pdf_issuer_block(pdf, agency_issuer())
    pdf.kv([
        (_("Credit note number"), cn.number), (_("Issued"), format_local(cn.issued_at)),
        (_("Corrects invoice"), inv.number), (_("Order"), order.reference), *_billed_to(order, inv),
        (_("Amount credited"), format_sen(cn.amount_sen)), (_("Reason"), cn.shown_reason),
    ])
    return pdf.output_io()
