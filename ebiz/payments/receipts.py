"""Receipts as PDF (on the shared `ebiz.pdf.Document`), and the issuer and customer blocks every
money document shows (receipts here; invoices and credit notes in orders, which may import payments).
The on-screen receipt is templates/payments/receipt.html."""

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from ..accounts.models import Kind
from ..clock import format_local
from ..money import format_sen
from ..pdf import Document
from .banks import bank_name


@dataclass(frozen=True)
class Issuer:
    """Who issues invoices, receipts and credit notes (config AGENCY_*); empty parts are not shown."""

    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    sst_no: str

    def contact_lines(self) -> list[str]:
        """Phone, email and SST number, each labelled, as printed under the address."""
        lines = []
        if self.phone:
            lines.append(_("Tel. %(phone)s", phone=self.phone))
        if self.email:
            lines.append(_("Email: %(email)s", email=self.email))
        if self.sst_no:
            lines.append(_("SST registration no. %(number)s", number=self.sst_no))
        return lines


def agency_issuer(config=None) -> Issuer:
    cfg = config if config is not None else current_app.config
    address = str(cfg.get("AGENCY_ADDRESS") or "")
    return Issuer(name=str(cfg.get("AGENCY_NAME") or "").strip(),
                  address_lines=tuple(line.strip() for line in address.splitlines() if line.strip()),
                  phone=str(cfg.get("AGENCY_PHONE") or "").strip(), email=str(cfg.get("AGENCY_EMAIL") or "").strip(),
                  sst_no=str(cfg.get("AGENCY_SST_NO") or "").strip())


def payer_snapshot(user) -> dict | None:
    """Who paid, as the receipt names them: kept on the intent when the receipt is issued, so a
    later change of name or email never changes an issued receipt."""
    if user is None:
        return None
    company = user.kind == Kind.COMPANY
    return {"kind": user.kind, "name": user.full_name, "email": user.email,
            "company_name": (user.company_name or user.full_name) if company else None,
            "company_reg_no": user.company_reg_no if company else None}


def customer_rows(payer) -> list[tuple[str, str]]:
    """(label, value) rows naming a paying customer (a `payer_snapshot`): the person, or for a
    company its name, company number and representative."""
    if not payer:
        return []
    if payer["kind"] == Kind.COMPANY:
        rows = [(_("Company"), payer["company_name"])]
        if payer.get("company_reg_no"):
            rows.append((_("Company number"), payer["company_reg_no"]))
        rows.append((_("Representative"), payer["name"]))
    else:
        rows = [(_("Customer"), payer["name"])]
    rows.append((_("Email"), payer["email"]))
    return rows


def payer_of(intent) -> dict | None:
    """The payer as issued (receipts before snapshots were kept: as the account reads now)."""
    return intent.payer or payer_snapshot(intent.user)


def pdf_issuer_block(pdf: Document, issuer: Issuer) -> None:
    """The issuer's name, address and contacts, under the document's title."""
    pdf.use(10, bold=True)
    pdf.multi_cell(0, 5, issuer.name, new_x="LMARGIN", new_y="NEXT")
    pdf.use(9)
    for line in (*issuer.address_lines, *issuer.contact_lines()):
        pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def receipt_pdf(intent, description: str) -> bytes:
    pdf = Document(f"{_('Receipt')} {intent.receipt_no}")
    pdf_issuer_block(pdf, agency_issuer())
    method = {"fpx": f"{_('FPX online banking')} ({bank_name(intent.bank_code)})", "card": _("Card"),
              "wallet": _("eBiz wallet"), "cash": _("Cash at the counter"),
              "terminal": _("Card at the counter's terminal")}
    pdf.kv([
        (_("Receipt"), intent.receipt_no),
        (_("Date"), format_local(intent.succeeded_at, "%d/%m/%Y %H:%M")),
        *customer_rows(payer_of(intent)),
        (_("For"), description),
        (_("Payment reference"), intent.reference),
        (_("Method"), method.get(intent.method, intent.method)),
        *([(_("Paid at"), f"{intent.counter_name} ({intent.counter_code})")] if intent.counter_code else []),
        (_("Gateway transaction"), intent.gateway_txn_id or "-"),
        (_("Amount paid"), format_sen(intent.amount_sen)),
    ], label_width=48, size=11, height=8)
    pdf.paragraph(_("This receipt was issued electronically and needs no signature."))
    return bytes(pdf.output())
