"""The product page sends the same number of SQL statements whatever the number of versions."""

import io
from datetime import date

from ebiz.accounts.models import Role
from ebiz.catalog.models import ProductVersion
from ebiz.delivery import service as delivery
from ebiz.extensions import db
from tests.factories import make_product, make_user
from tests.sql_counting import page_statements


def _product_with_versions(n: int):
    """A digital product with n published versions, each with a stored file; (product, checksums)."""
    admin = make_user(role=Role.ADMIN)
    product = make_product(version=False)
    sums = []
    for i in range(n):
        v = ProductVersion(product_id=product.id, label=f"2026.{i + 1}", release_date=date(2026, 1, 1 + i),
                           change_notes="", published=True)
        db.session.add(v)
        db.session.flush()
        pf = delivery.store_file(product.id, io.BytesIO(f"data of {i}".encode()), f"parcels-{i}.gpkg", actor=admin,
                                 version_id=v.id)
        sums.append(pf.sha256)
    db.session.commit()
    return product, sums


def test_product_page_queries_do_not_grow_with_versions(client):
    counts = {}
    for n in (2, 10):
        product, sums = _product_with_versions(n)
        html, seen = page_statements(client, f"/catalog/p/{product.slug}")
        assert html.count('data-testid="version"') == n
        assert all(s in html for s in sums)
        counts[n] = len(seen)
    assert counts[2] == counts[10], counts
