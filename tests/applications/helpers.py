"""Helpers for the applications tests: a restricted product, files, an application through its steps."""

import io
from datetime import date, timedelta

from ebiz.applications import service
from ebiz.clock import utcnow
from ebiz.extensions import db
from tests.factories import make_product

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def restricted_product(**kw):
    kw.setdefault("licence_key", "restricted-data")
    return make_product(restricted=True, **kw)


def draft(user, *products, remit=False, category="federal_agency", declaration=True):
    app_ = service.save_draft(
        user, product_ids=[p.id for p in products], wants_data=True, wants_remit=remit,
        purpose="Flood modelling", agency="Jabatan Pengairan dan Saliran", applicant_category=category,
        intended_use="Hydrological model of the Klang basin", area_state="Selangor", area_district="Petaling",
        period_from=date(2026, 1, 1), period_to=date(2026, 12, 31), declaration=declaration)
    db.session.commit()
    return app_


def attach(app_, user, data=PDF, name="letter.pdf"):
    doc = service.add_document(app_.token, user, io.BytesIO(data), name)
    db.session.commit()
    return doc


def submitted(user, *products, **kw):
    app_ = draft(user, *products, **kw)
    attach(app_, user)
    service.submit(app_.token, user)
    db.session.commit()
    return app_


def approved(user, admin, reviewer, *products, copies=1, days=30, **kw):
    app_ = submitted(user, *products)
    service.recommend(app_.token, reviewer, recommendation="approve", notes="In order")
    service.approve(app_.token, admin, copies={p.id: copies for p in products},
                    valid_until=utcnow() + timedelta(days=days), conditions="Not for redistribution", **kw)
    db.session.commit()
    return app_
