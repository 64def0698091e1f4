"""PDF documents (fpdf2, core fonts): the base `Document` (also used by orders for invoices) and the
licence certificate with a QR code to the public verification page."""

import io

from flask_babel import gettext as _
from fpdf import FPDF

from ..clock import format_local
from .service import grant_state, qr_png

_TYPOGRAPHY = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                             "\u201d": '"', "\u2026": "...", "\u2022": "*", "\u00a0": " ", "\u2212": "-"})


def latin1(text) -> str:
    """Core PDF fonts speak Latin-1: typographic dashes and quotes become their plain forms, and
    anything else outside Latin-1 becomes '?' rather than breaking the document."""
    return str(text or "").translate(_TYPOGRAPHY).encode("latin-1", "replace").decode("latin-1")


class Document(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.doc_title = title
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()

    def header(self):
        self.set_font("helvetica", "B", 14)
        self.cell(0, 8, latin1(_("eBiz Geospatial Store")), new_x="LMARGIN", new_y="NEXT")
        self.set_font("helvetica", "", 9)
        self.cell(0, 5, latin1(_("National mapping agency, Malaysia")), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)
        self.set_font("helvetica", "B", 16)
        self.cell(0, 10, latin1(self.doc_title), new_x="LMARGIN", new_y="NEXT")
        self.set_font("helvetica", "", 10)

    def footer(self):
        self.set_y(-12)
        self.set_font("helvetica", "I", 8)
        self.cell(0, 6, latin1(f"{self.doc_title} - {self.page_no()}"), align="C")

    def kv(self, rows):
        for key, value in rows:
            self.set_font("helvetica", "B", 10)
            self.cell(45, 6, latin1(key))
            self.set_font("helvetica", "", 10)
            self.multi_cell(0, 6, latin1(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def output_io(self) -> io.BytesIO:
        return io.BytesIO(bytes(self.output()))


def certificate_pdf(grant, *, product_name: str, version_label: str, licence_title: str, licensee: str,
                    verify_url: str) -> io.BytesIO:
    pdf = Document(_("Licence certificate"))
    pdf.kv([
        (_("Licence number"), grant.number),
        (_("Licensee"), licensee),
        (_("Product"), product_name),
        (_("Version"), version_label or "-"),
        (_("Licence"), f"{licence_title} ({_('version')} {grant.licence_version})"),
        (_("Permitted use"), grant.permitted_use),
        *([(_("Approved application"), grant.application_ref), (_("Conditions"), grant.conditions or "")]
          if grant.application_ref else []),
        (_("Valid from"), format_local(grant.valid_from)),
        (_("Valid until"), format_local(grant.valid_until) if grant.valid_until else _("No end date")),
        (_("Status"), {"valid": _("Valid"), "revoked": _("Revoked"), "expired": _("Expired"),
                       "not-yet-valid": _("Not yet valid")}[grant_state(grant)]),  # as the certificate page
        (_("Text fingerprint (SHA-256)"), grant.text_sha256),
    ])
    y = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.l_margin, y=y, w=40, h=40)
    pdf.set_xy(pdf.l_margin + 45, y + 5)
    pdf.multi_cell(0, 5, latin1(_("Scan the code or open the address below to check that this licence is "
                                  "genuine and still valid:")))
    pdf.set_x(pdf.l_margin + 45)
    pdf.multi_cell(0, 5, latin1(verify_url))
    return pdf.output_io()
