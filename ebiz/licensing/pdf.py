"""The licence certificate as PDF (on the shared `ebiz.pdf.Document`), with a QR code to the public
verification page."""

import io

from flask_babel import gettext as _

from ..clock import format_local
from ..pdf import Document
from .service import grant_state, qr_png


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
    pdf.use(9)
    pdf.multi_cell(0, 5, _("Scan the code or open the address below to check that this licence is "
                           "genuine and still valid:"))
    pdf.set_x(pdf.l_margin + 45)
    pdf.multi_cell(0, 5, verify_url)
    return pdf.output_io()
