"""My downloads sends the same number of SQL statements whatever the number of entitlements."""

import io
from datetime import date

from sqlalchemy import select

from ebiz.accounts.models import Role
from ebiz.catalog.models import ProductVersion
from ebiz.delivery import service
from ebiz.delivery.models import Entitlement
from ebiz.extensions import db
from tests.delivery.helpers import bought_file
from tests.factories import login_session, make_grant, make_product, make_user
from tests.sql_counting import page_statements


def _entitlements(user, n: int) -> list:
    """n bought products, each with a stored file and a newer published version."""
    refs = []
    for i in range(n):
        _user, product, _grant, ent, pf, _data = bought_file(size=1000, user=user)
        db.session.add(ProductVersion(product_id=product.id, label=f"2026.{i + 2}", release_date=date(2026, 6, 1),
                                      change_notes="Second release", published=True))
        refs.append((ent.ref, pf.ref, pf.sha256))
    db.session.commit()
    return refs


def _deliverable(user, order_line_id: int):
    """An on-demand service whose file was attached to the customer's order line (no version)."""
    product = make_product(type="service", service_kind="extraction", allowed_extensions=".csv")
    grant = make_grant(user, product, order_line_id=order_line_id)
    pf = service.attach_deliverable(order_line_id, grant, io.BytesIO(b"id,x\n1,2\n"), "extract.csv",
                                    make_user(role=Role.ADMIN))
    db.session.commit()
    ent = db.session.scalar(select(Entitlement).where(Entitlement.grant_id == grant.id))
    return ent.ref, pf.ref, pf.sha256


def test_my_downloads_queries_do_not_grow_with_entitlements(app):
    counts = {}
    for n in (2, 10):
        user = make_user(tier="primary")
        refs = _entitlements(user, n) + [_deliverable(user, order_line_id=4000 + n)]
        client = app.test_client()
        login_session(client, user)
        html, seen = page_statements(client, "/downloads/")
        assert html.count('data-testid="entitlement"') == n + 1
        assert html.count('data-testid="newer-version"') == n
        for ent_ref, file_ref, sha in refs:
            assert f"/downloads/get/{ent_ref}/{file_ref}" in html and sha in html
        counts[n] = len(seen)
    assert counts[2] == counts[10], counts
