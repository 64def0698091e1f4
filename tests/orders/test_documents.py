"""Invoices, receipts and credit notes name their issuer (config AGENCY_*) and the customer billed."""

import io
import re

import pytest
from pypdf import PdfReader

from ebiz.accounts.models import Kind, Tier
from ebiz.extensions import db
from ebiz.orders.models import Order
from ebiz.payments.receipts import agency_issuer
from tests.factories import make_user
from tests.orders.helpers import client_for, fund, pay_wallet, pdf_text, place, printed_product


def _get(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.data[:500]
    return r


@pytest.fixture
def sst(app, monkeypatch):
    monkeypatch.setitem(app.config, "AGENCY_SST_NO", "W10-1808-32000001")
    return "W10-1808-32000001"


def test_default_issuer_is_the_agency_without_an_sst_number(app):
    issuer = agency_issuer()
    assert issuer.name.startswith("Jabatan Ukur dan Pemetaan Malaysia")
    assert issuer.address_lines == ("Wisma JUPEM", "Jalan Sultan Yahya Petra", "50578 Kuala Lumpur")
    assert issuer.sst_no == "" and not any("SST" in line for line in issuer.contact_lines())


def test_issuer_follows_the_configuration(app, monkeypatch):
    monkeypatch.setitem(app.config, "AGENCY_ADDRESS", "Aras 5\n\n  Jalan Contoh  \nPutrajaya")
    monkeypatch.setitem(app.config, "AGENCY_EMAIL", "ebiz@agency.example.my")
    issuer = agency_issuer()
    assert issuer.address_lines == ("Aras 5", "Jalan Contoh", "Putrajaya")
    [line] = issuer.contact_lines()  # no phone, no SST number: the email only
    assert issuer.phone == "" and issuer.email in line


def test_invoice_page_and_pdf_show_issuer_and_company_billing_identity(app, sst):
    rep = make_user(kind=Kind.COMPANY, tier=Tier.REGULAR, full_name="Ahmad Rep", company_name="Geo Ukur Sdn. Bhd.",
                    company_reg_no="201901012345")
    order = place(rep, printed_product(price_sen=1200))
    client = client_for(app, rep)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}/invoice").get_data(as_text=True)
    issuer = re.search(r'<address class="issuer" data-testid="issuer">(.*?)</address>', html, re.S).group(1)
    for text in ("Jabatan Ukur dan Pemetaan Malaysia", "Wisma JUPEM", "Jalan Sultan Yahya Petra", "50578 Kuala Lumpur",
                 "SST registration no. W10-1808-32000001"):
        assert text in issuer
    billed = re.search(r'data-testid="billed-to">(.*?)</dd>', html, re.S).group(1)
    for text in ("Geo Ukur Sdn. Bhd.", "Company number", "201901012345", "Representative", "Ahmad Rep",
                 rep.email):
        assert text in billed
    text = pdf_text(_get(client, f"/orders/{order.reference}/invoice.pdf").data)
    for part in ("Jabatan Ukur dan Pemetaan Malaysia", "Wisma JUPEM", "50578 Kuala Lumpur", "W10-1808-32000001",
                 "Geo Ukur Sdn. Bhd.", "201901012345", "Ahmad Rep"):
        assert part in text, part


def test_individual_invoice_has_no_company_lines_and_no_sst_by_default(app):
    user = make_user(tier=Tier.REGULAR, full_name="Siti Aminah")
    order = place(user, printed_product(price_sen=1200))
    client = client_for(app, user)
    client.set_cookie("lang", "en")
    html = _get(client, f"/orders/{order.reference}/invoice").get_data(as_text=True)
    billed = re.search(r'data-testid="billed-to">(.*?)</dd>', html, re.S).group(1)
    assert "Siti Aminah" in billed and user.email in billed and "Company number" not in billed
    assert "Wisma JUPEM" in html and "SST" not in html
    assert "SST" not in pdf_text(_get(client, f"/orders/{order.reference}/invoice.pdf").data)


def test_credit_note_page_and_pdf_show_issuer_and_billing_identity(app, sst):
    rep = make_user(kind=Kind.COMPANY, tier=Tier.REGULAR, full_name="Ahmad Rep", company_name="Geo Ukur Sdn. Bhd.")
    order = place(rep, printed_product(price_sen=1200))
    client = client_for(app, rep)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      client.get(f"/orders/{order.reference}").get_data(as_text=True)).group(1)
    assert client.post(f"/orders/{order.reference}/cancel", data={"csrf_token": token}).status_code == 302
    db.session.rollback()
    order = db.session.get(Order, order.id)
    cn = order.invoice.credit_notes[0]
    html = _get(client, f"/orders/{order.reference}/credit-notes/{cn.number}").get_data(as_text=True)
    assert "Wisma JUPEM" in html and sst in html
    billed = re.search(r'data-testid="billed-to">(.*?)</dd>', html, re.S).group(1)
    assert "Geo Ukur Sdn. Bhd." in billed and rep.company_reg_no in billed and rep.email in billed
    text = pdf_text(_get(client, f"/orders/{order.reference}/credit-notes/{cn.number}.pdf").data)
    assert "Wisma JUPEM" in text and sst in text and rep.company_reg_no in text


def test_receipt_page_and_pdf_show_issuer_and_company_identity(app, sst):
    rep = make_user(kind=Kind.COMPANY, tier=Tier.PRIMARY, full_name="Ahmad Rep", company_name="Geo Ukur Sdn. Bhd.")
    fund(rep, 5000)
    intent = pay_wallet(place(rep, printed_product(price_sen=1200)))
    client = client_for(app, rep)
    client.set_cookie("lang", "en")
    html = _get(client, f"/payments/{intent.reference}/receipt").get_data(as_text=True)
    issuer = re.search(r'data-testid="issuer">(.*?)</address>', html, re.S).group(1)
    assert "Jabatan Ukur dan Pemetaan Malaysia" in issuer and "Wisma JUPEM" in issuer and sst in issuer
    customer = " ".join(re.findall(r'data-testid="receipt-customer">([^<]*)<', html))
    for text in ("Geo Ukur Sdn. Bhd.", rep.company_reg_no, "Ahmad Rep", rep.email):
        assert text in customer, text
    text = pdf_text(_get(client, f"/payments/{intent.reference}/receipt.pdf").data)
    for part in ("Jabatan Ukur dan Pemetaan Malaysia", "Wisma JUPEM", sst, "Geo Ukur Sdn. Bhd.",
                 rep.company_reg_no, "Ahmad Rep", intent.receipt_no):
        assert part in text, part


def _embedded_fonts(data: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(data))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


CHINESE, TAMIL = "陈美玲", "சுப்பிரமணியம்"


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_documents_print_chinese_and_tamil_names_as_themselves(app):
    """Names in Chinese and Tamil print in embedded Unicode fonts, never as "?" (the core fonts were Latin-1)."""
    company = make_user(kind=Kind.COMPANY, tier=Tier.PRIMARY, full_name=f"{TAMIL} a/l Muthu",
                        company_name=f"{CHINESE} Ukur Sdn. Bhd.")
    fund(company, 5000)
    order = place(company, printed_product(price_sen=1200))
    intent = pay_wallet(order)
    client = client_for(app, company)
    for path in (f"/orders/{order.reference}/invoice.pdf", f"/payments/{intent.reference}/receipt.pdf"):
        data = _get(client, path).data
        text = _squeezed(pdf_text(data))
        assert _squeezed(CHINESE) in text and _squeezed(TAMIL) in text, path + " " + repr(text[:900])
        assert "?" not in text, path
        fonts = " ".join(_embedded_fonts(data))
        assert "NotoSansSC" in fonts and "NotoSansTamil" in fonts and "NotoSans" in fonts, fonts


def test_a_latin_only_document_embeds_one_font_and_keeps_typographic_marks(app):
    from ebiz.pdf import Document

    with app.test_request_context():
        pdf = Document("Invoice")
        pdf.kv([("Item", "Lot kadaster – Petaling “Selangor”"), ("Name", "Zoë Ng")])
        data = pdf.output_io().getvalue()
    fonts = _embedded_fonts(data)
    assert len(fonts) == 1 and "NotoSans" in fonts.pop()  # no Tamil or Chinese font loaded for nothing
    text = pdf_text(data)
    assert "Lot kadaster – Petaling “Selangor”" in text and "Zoë Ng" in text


def test_bold_does_not_leak_into_the_plain_text_after_it(app):
    """The PDF text rendering mode outlives its text object: bold (fill and stroke) is drawn inside a
    saved graphics state (q ... Q), so the plain text that follows is not stroked."""
    from ebiz.pdf import Document

    with app.test_request_context():
        pdf = Document("T")
        pdf.use(10, bold=True)
        pdf.cell(0, 6, "Bold label", new_x="LMARGIN", new_y="NEXT")
        pdf.use(10)
        pdf.cell(0, 6, "Plain value", new_x="LMARGIN", new_y="NEXT")
        pdf.set_compression(False)
        data = bytes(pdf.output())
    stream = data[data.index(b"stream"):]
    depth, stroked_outside = 0, []
    for token in re.findall(rb"\bq\b|\bQ\b|\b2 Tr\b", stream):
        depth += {b"q": 1, b"Q": -1}.get(token, 0)
        if token == b"2 Tr" and depth == 0:
            stroked_outside.append(token)
    assert b"2 Tr" in stream and not stroked_outside
