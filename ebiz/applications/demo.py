"""Demo applications in several states, for the restricted product IMG-PJY-2025."""

import io
from datetime import date, timedelta

from sqlalchemy import select

from ..accounts.models import User
from ..catalog.models import Product
from ..clock import utcnow
from ..extensions import db
from . import service

DEMO_PDF = b"%PDF-1.4\n% eBiz demo: surat sokongan agensi\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def _draft(user, product, *, agency: str, remit: bool = False, category: str = "federal_agency"):
    app_ = service.save_draft(
        user, product_ids=[product.id], wants_data=True, wants_remit=remit, agency=agency,
        purpose="Pemetaan guna tanah untuk perancangan", intended_use="Analisis GIS dalaman; tiada pengedaran",
        applicant_category=category, area_state="W.P. Putrajaya", area_district="Putrajaya",
        period_from=date(2026, 1, 1), period_to=date(2026, 12, 31), declaration=True)
    service.add_document(app_.token, user, io.BytesIO(DEMO_PDF), "surat-sokongan.pdf")
    return app_


def seed() -> list[str]:
    product = db.session.scalar(select(Product).where(Product.sku == "IMG-PJY-2025"))
    aminah, ukur = _user("aminah@example.my"), _user("ukur@example.my")
    admin, support = _user("admin@ebiz.example.my"), _user("support@ebiz.example.my")
    if None in (product, aminah, ukur, admin, support):
        return []
    service.grant_reviewer(support.id, actor=admin)
    _draft(aminah, product, agency="Projek tesis sarjana")  # a draft
    submitted = _draft(ukur, product, agency="Ukur Tepat Sdn. Bhd.", category="company")
    service.submit(submitted.token, ukur)
    asked = _draft(aminah, product, agency="Universiti Putra Malaysia", remit=True, category="public_university")
    service.submit(asked.token, aminah)
    service.request_info(asked.token, support, question="Sila lampirkan surat pengesahan penyelia projek.")
    rejected = _draft(ukur, product, agency="Ukur Tepat Sdn. Bhd. (projek komersial)", category="company")
    service.submit(rejected.token, ukur)
    service.recommend(rejected.token, support, recommendation="reject", notes="Kawasan melebihi keperluan projek.")
    service.reject(rejected.token, admin, reason="Kawasan yang dipohon melebihi keperluan projek yang dinyatakan.")
    approved = _draft(aminah, product, agency="Jabatan Perancangan Bandar (projek bersama)")
    service.submit(approved.token, aminah)
    service.recommend(approved.token, support, recommendation="approve", notes="Lengkap.")
    service.approve(approved.token, admin, copies={product.id: 1}, valid_until=utcnow() + timedelta(days=90),
                    conditions="Untuk kegunaan dalaman projek sahaja; tidak boleh diedarkan semula.")
    db.session.flush()
    return ["", "Applications: IMG-PJY-2025 applied for in every state (draft, submitted, more information "
            "requested, rejected, approved for aminah@example.my); support@ebiz.example.my is a reviewer."]
