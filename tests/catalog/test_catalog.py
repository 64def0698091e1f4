"""The catalogue: who may buy, stock and seats (also under concurrency), browse/search, staff edits."""

import threading
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, text

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.catalog import search, service
from ebiz.catalog.models import SEARCH_VECTOR_SQL, Category, Product, ProductVersion, RestrictedAccess, TrainingSession
from ebiz.clock import utcnow
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from tests.factories import csrf_from, login_session, make_product, make_user


def _session(product, seats=3, taken=0, days=10):
    start = utcnow() + timedelta(days=days)
    s = TrainingSession(product_id=product.id, starts_at=start, ends_at=start + timedelta(hours=6),
                        venue="Kuala Lumpur HQ", seats_total=seats, seats_taken=taken)
    db.session.add(s)
    db.session.commit()
    return s


# -- may_purchase -------------------------------------------------------------------------------

def test_tier_rules(app):
    regular, primary = make_user(), make_user(tier=Tier.PRIMARY)
    digital = make_product()
    printed = make_product(type="printed")
    training = make_product(type="service", service_kind="training")
    extraction = make_product(type="service", service_kind="extraction")
    assert service.may_purchase(primary, digital) == (True, None)
    ok, why = service.may_purchase(regular, digital)
    with force_locale("en"):
        assert not ok and "Primary" in str(why) and "counter" in str(why)
    assert service.may_purchase(regular, printed) == (True, None)
    assert service.may_purchase(regular, training) == (True, None)
    assert service.may_purchase(regular, extraction)[0] is False
    assert service.may_purchase(primary, extraction) == (True, None)


def test_unpublished_and_anonymous(app):
    from flask_login import AnonymousUserMixin

    primary = make_user(tier=Tier.PRIMARY)
    draft = make_product(status="draft")
    retired = make_product(status="retired")
    assert service.may_purchase(primary, draft)[0] is False
    assert service.may_purchase(primary, retired)[0] is False
    assert service.may_purchase(AnonymousUserMixin(), make_product())[0] is False


def test_restricted_needs_access_in_force(app):
    admin = make_user(role=Role.ADMIN)
    primary = make_user(tier=Tier.PRIMARY)
    product = make_product(restricted=True)
    ok, why = service.may_purchase(primary, product)
    with force_locale("en"):
        assert not ok and "restricted" in str(why).lower()

    access = service.grant_restricted_access(primary.id, product.id, source_ref="EBZ-APP-1234-5678",
                                             granted_by=admin)
    db.session.commit()
    assert service.may_purchase(primary, product) == (True, None)
    assert service.may_purchase(make_user(tier=Tier.PRIMARY), product)[0] is False  # only that customer
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "catalog.restricted_access.grant")) == 1

    service.revoke_restricted_access(access.id, actor=admin, reason="Application withdrawn")
    db.session.commit()
    assert service.may_purchase(primary, product)[0] is False

    service.grant_restricted_access(primary.id, product.id, source_ref="EBZ-APP-9", granted_by=admin,
                                    expires_at=utcnow() - timedelta(minutes=1))
    db.session.commit()
    assert service.may_purchase(primary, product)[0] is False  # expired access


def test_grant_access_refuses_unrestricted_product_and_writes_nothing(app):
    admin, user = make_user(role=Role.ADMIN), make_user(tier=Tier.PRIMARY)
    product = make_product()
    with pytest.raises(ValidationError):
        service.grant_restricted_access(user.id, product.id, source_ref="X", granted_by=admin)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RestrictedAccess)) == 0


# -- stock and seats ---------------------------------------------------------------------------

def test_reserve_and_release_stock(app):
    p = make_product(type="printed", stock=3)
    service.reserve_stock(p.id, 2)
    assert p.stock == 1
    with pytest.raises(Conflict):
        service.reserve_stock(p.id, 2)
    assert p.stock == 1  # refused: unchanged
    service.release_stock(p.id, 2)
    db.session.commit()
    assert db.session.get(Product, p.id).stock == 3
    with pytest.raises(ValidationError):
        service.reserve_stock(p.id, 0)


def test_reserve_seat_full_or_cancelled(app):
    p = make_product(type="service", service_kind="training")
    s = _session(p, seats=1)
    service.reserve_seat(s.id)
    assert s.seats_left == 0
    with pytest.raises(Conflict):
        service.reserve_seat(s.id)
    service.release_seat(s.id)
    s.cancelled = True
    db.session.commit()
    with pytest.raises(Conflict):
        service.reserve_seat(s.id)
    assert db.session.get(TrainingSession, s.id).seats_taken == 0


def _race(app, fn, n=8):
    results = []
    barrier = threading.Barrier(n)

    def worker():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                fn()
                db.session.commit()
                results.append("ok")
            except Conflict:
                db.session.rollback()
                results.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_last_item_concurrently(app):
    p = make_product(type="printed", stock=1)
    pid = p.id
    results = _race(app, lambda: service.reserve_stock(pid, 1))
    assert sorted(results) == ["conflict"] * 7 + ["ok"]
    db.session.rollback()  # end this session's snapshot before reading what the threads wrote
    assert db.session.get(Product, pid).stock == 0


def test_last_seats_concurrently(app):
    p = make_product(type="service", service_kind="training")
    s = _session(p, seats=2)
    sid = s.id
    results = _race(app, lambda: service.reserve_seat(sid))
    assert sorted(results) == ["conflict"] * 6 + ["ok"] * 2
    db.session.rollback()
    assert db.session.get(TrainingSession, sid).seats_taken == 2


# -- browse and search -------------------------------------------------------------------------

def _catalogue():
    cat = Category(slug="cadastre", name_ms="Kadaster", name_en="Cadastre")
    db.session.add(cat)
    db.session.flush()
    a = make_product(name="Cadastral parcels Petaling", description="Lot boundaries", category_id=cat.id,
                     price_sen=9000, state="Selangor", district="Petaling", data_format="GeoPackage")
    b = make_product(name="Survey control points Johor", description="Geodetic benchmarks",
                     price_sen=3000, state="Johor", district="Johor Bahru", data_format="CSV")
    c = make_product(type="printed", name="Topographic map sheet 3757", description="Paper map", price_sen=1500)
    d = make_product(name="Hidden draft parcels", status="draft")
    return cat, a, b, c, d


def test_browse_filters_and_sort(client):
    cat, a, b, c, d = _catalogue()
    r = client.get("/catalog/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert a.name in html and b.name in html and c.name in html and d.name not in html
    html = client.get("/catalog/?category=cadastre").get_data(as_text=True)
    assert a.name in html and b.name not in html
    html = client.get("/catalog/?state=Johor").get_data(as_text=True)
    assert b.name in html and a.name not in html
    html = client.get("/catalog/?type=printed").get_data(as_text=True)
    assert c.name in html and a.name not in html
    html = client.get("/catalog/?format=CSV").get_data(as_text=True)
    assert b.name in html and a.name not in html
    html = client.get("/catalog/?district=Petaling").get_data(as_text=True)
    assert a.name in html and b.name not in html
    html = client.get("/catalog/?sort=price_asc").get_data(as_text=True)
    assert html.index(c.name) < html.index(b.name) < html.index(a.name)
    html = client.get("/catalog/?sort=price_desc").get_data(as_text=True)
    assert html.index(a.name) < html.index(b.name) < html.index(c.name)


def test_search_name_and_description(client):
    _, a, b, c, d = _catalogue()
    html = client.get("/catalog/?q=benchmarks").get_data(as_text=True)
    assert b.name in html and a.name not in html
    html = client.get("/catalog/?q=parcels").get_data(as_text=True)
    assert a.name in html and d.name not in html  # drafts never show
    html = client.get("/catalog/?q=cadastral+petal").get_data(as_text=True)  # prefixes, all words
    assert a.name in html and b.name not in html
    r = client.get("/catalog/?q=%27%22%28%29%26%7C%21%3A*")  # operators only: no error, no results
    assert r.status_code == 200 and b"no-results" in r.data


def test_search_with_filters_sort_and_pages(client):
    for i in range(30):
        make_product(name=f"Imagery tile {i:02d}", price_sen=1000 + (i * 7) % 30 * 100, state="Sabah" if i % 2 else
                     "Johor", commit=False, version=False)
    make_product(name="Imagery draft", status="draft", commit=False, version=False)
    db.session.commit()
    html = client.get("/catalog/?q=imagery&state=Sabah&sort=price_desc").get_data(as_text=True)
    names = [f"Imagery tile {i:02d}" for i in range(1, 30, 2)]
    shown = [n for n in names if n in html]
    assert len(shown) == 15 and "Imagery tile 00" not in html and "draft" not in html
    by_price = sorted(range(1, 30, 2), key=lambda i: (-(1000 + (i * 7) % 30 * 100), -i))
    positions = [html.index(f"Imagery tile {i:02d}<") for i in by_price]
    assert positions == sorted(positions)
    page1 = client.get("/catalog/?q=imagery").get_data(as_text=True)
    page2 = client.get("/catalog/?q=imagery&page=2").get_data(as_text=True)
    assert "Imagery tile 23" in page1 and "Imagery tile 24" in page2 and 'rel="next"' not in page2


def test_pagination_bounded(client):
    for i in range(30):
        make_product(name=f"Sheet {i:03d}", commit=False, version=False)
    db.session.commit()
    html = client.get("/catalog/").get_data(as_text=True)
    assert "Sheet 000" in html and "Sheet 024" not in html and 'rel="next"' in html
    html = client.get("/catalog/?page=2").get_data(as_text=True)
    assert "Sheet 024" in html and "Sheet 029" in html and 'rel="next"' not in html
    assert client.get("/catalog/?page=999999").status_code == 200  # clamped, not a deep scan


@pytest.mark.postgres_only("a PostgreSQL index check")
def test_search_uses_the_gin_index_on_postgresql(app):
    make_product(name="Aerial imagery Kuching")
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    f = service.Filters(q="imagery")
    # The search predicate alone: the expression must match the GIN index for it to be used at all.
    plan = "\n".join(r[0] for r in db.session.execute(text(
        f"EXPLAIN SELECT id FROM product WHERE {SEARCH_VECTOR_SQL} @@ to_tsquery('simple', :q)"),
        {"q": search._tsquery(f.q)}))
    assert "ix_product_search" in plan, plan
    assert [p.name for p in service.list_products(f).items] == ["Aerial imagery Kuching"]


@pytest.mark.postgres_only("a PostgreSQL index check")
def test_listing_uses_an_index_on_postgresql(app):
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in db.session.execute(text(
        "EXPLAIN SELECT * FROM product WHERE status = 'published' ORDER BY name LIMIT 25")))
    assert "Index" in plan and "Seq Scan" not in plan, plan


# -- product page ------------------------------------------------------------------------------

def test_product_page_regular_sees_why_and_how_to_upgrade(client):
    p = make_product(name="Cadastral parcels Klang")
    login_session(client, make_user())
    client.set_cookie("lang", "en")
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    assert 'data-testid="why-not"' in html and "counter" in html
    assert "add-to-cart" not in html
    assert "standard-digital-data" in html  # the licence is named
    assert "2026.1" in html


def test_product_page_primary_may_buy_and_sees_sessions(client):
    training = make_product(type="service", service_kind="training", name="GIS basics")
    _session(training, seats=5, taken=2)
    _session(training, seats=5, days=-3)  # past: not shown
    login_session(client, make_user(tier=Tier.PRIMARY))
    html = client.get(f"/catalog/p/{training.slug}").get_data(as_text=True)
    assert html.count('data-testid="session"') == 1
    assert ">3<" in html  # seats left


def test_draft_product_page_is_404(client):
    p = make_product(status="draft")
    assert client.get(f"/catalog/p/{p.slug}").status_code == 404


# -- staff ---------------------------------------------------------------------------------------

def test_admin_creates_versions_and_publishes_audited(client):
    admin = make_user(role=Role.ADMIN)
    login_session(client, admin)
    page = client.get("/catalog/admin/new")
    assert page.status_code == 200
    r = client.post("/catalog/admin/new", data={
        "csrf_token": csrf_from(page.data), "sku": "DIG-TOPO-1", "name": "Topographic data Perak",
        "name_ms": "Data topografi Perak",
        "description": "1:25k", "type": "digital", "service_kind": "", "category_id": "", "price": "120.50",
        "licence_key": "standard-digital-data", "download_limit": "5", "download_window_days": "30"})
    assert r.status_code == 302, r.data[:1500]
    p = db.session.scalar(select(Product).where(Product.sku == "DIG-TOPO-1"))
    assert p.status == "draft" and p.price_sen == 12050
    edit = client.get(f"/catalog/admin/{p.id}")
    token = csrf_from(edit.data)
    # Digital data cannot be published without a version.
    client.post(f"/catalog/admin/{p.id}/status", data={"csrf_token": token, "status": "published"})
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "draft"
    client.post(f"/catalog/admin/{p.id}/versions", data={"csrf_token": token, "label": "2026.2",
                                                         "release_date": "2026-02-01", "change_notes": "New",
                                                         "published": "y"})
    client.post(f"/catalog/admin/{p.id}/status", data={"csrf_token": token, "status": "published"})
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "published"
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)))
    assert {"catalog.product.create", "catalog.version.create", "catalog.product.status"} <= actions


def test_admin_form_errors_beside_the_field_and_nothing_saved(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    page = client.get("/catalog/admin/new")
    r = client.post("/catalog/admin/new", data={
        "csrf_token": csrf_from(page.data), "sku": "DIG-2", "name": "No licence", "name_ms": "Tiada lesen",
        "type": "digital",
        "price": "10", "download_limit": "5", "download_window_days": "30"})
    assert r.status_code == 200 and "need a licence" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_admin_pages_refuse_customers_and_csrf(client):
    login_session(client, make_user(tier=Tier.PRIMARY))
    assert client.get("/catalog/admin/").status_code == 403
    login_session(client, make_user(role=Role.ADMIN))
    r = client.post("/catalog/admin/new", data={"sku": "X", "name": "X", "type": "printed", "price": "1",
                                                "stock": "1", "download_limit": "5", "download_window_days": "30"})
    assert r.status_code in (200, 400)
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_training_session_added_in_malaysia_time(client):
    login_session(client, make_user(role=Role.ADMIN))
    p = make_product(type="service", service_kind="training", status="draft")
    token = csrf_from(client.get(f"/catalog/admin/{p.id}").data)
    r = client.post(f"/catalog/admin/{p.id}/sessions", data={
        "csrf_token": token, "starts_at": "2027-03-01T09:00", "ends_at": "2027-03-01T17:00",
        "venue": "Ipoh", "seats_total": "20"})
    assert r.status_code == 302
    s = db.session.scalar(select(TrainingSession).where(TrainingSession.product_id == p.id))
    assert s.starts_at.hour == 1 and s.seats_total == 20  # 09:00 MYT is 01:00 UTC


def test_newer_versions(app):
    p = make_product()
    v1 = p.versions[0]
    v2 = ProductVersion(product_id=p.id, label="2026.2", release_date=date(2026, 6, 1), change_notes="Fixes")
    db.session.add(v2)
    db.session.commit()
    assert [v.label for v in service.newer_versions(v1)] == ["2026.2"]
    assert service.newer_versions(v2) == []


def test_listing_reads_outside_a_transaction_on_postgresql(client, is_postgres):
    """As in production (a request starts with no transaction): the listing reads in autocommit
    on PostgreSQL, sees what was committed, and its connection goes back to the pool as it was."""
    cat, a, b, c, d = _catalogue()
    name = a.name
    db.session.remove()
    r = client.get("/catalog/?category=cadastre")
    assert r.status_code == 200 and name in r.get_data(as_text=True)
    db.session.remove()  # the end of the request (the test keeps one app context open)
    if is_postgres:
        from contextlib import ExitStack

        with ExitStack() as stack:  # every idle pooled connection, each checked out once
            conns = [stack.enter_context(db.engine.connect()) for _ in range(db.engine.pool.checkedin())]
            assert conns and not any(c.connection.driver_connection.autocommit for c in conns)


def test_pager_links_are_what_url_for_builds(app):
    from flask import url_for

    from ebiz.catalog.views import _page_url

    cases = [dict(q="imagery kuching 10"), dict(category="cat-7"), dict(q="a&b=c /,;:@!$'()*+ é% 日本"),
             dict(sort="price_desc", state="Pulau Pinang", district="Kota Bharu 8"), dict(sort="name", format="CSV"),
             dict()]
    with app.test_request_context("/catalog/"):
        base = url_for("catalog.browse")
        for case in cases:
            for page in (1, 2, service.MAX_PAGE):
                f = service.Filters(**case)
                assert _page_url(f, page, base) == _page_url(f, page)


def test_kept_listing_statements_match_the_built_ones(app):
    """list_products' reusable statements (search._listing) give the rows `_filtered` gives."""
    import itertools

    _catalogue()
    for cat, typ, state, fmt, sort, unpub in itertools.product(
            ["", "cadastre", "missing"], ["", "digital", "bogus"], ["", "Johor"], ["", "CSV"],
            ["name", "price_desc", "newest", "junk"], [False, True]):
        f = service.Filters(category=cat, type=typ, state=state, format=fmt, sort=sort)
        built = search._filtered(select(*search.LISTING_COLUMNS), Product, f, unpub)
        built = built.order_by(*search._sort(Product, f.sort)).offset(0).limit(25)
        kept, params = search._listing(f, unpub, 0, 25)
        assert [tuple(r) for r in db.session.execute(kept, params)] == [tuple(r) for r in db.session.execute(built)]
