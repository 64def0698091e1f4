"""Catalogue benchmarks: listing and search at 100,000 products beside the floor's /list,
and the same listing page at 1,000 vs 100,000 products (the cost must not grow with the catalogue).

Bench data is bulk-inserted (Core executemany, 10,000 rows a batch) into the bench
database only. Names combine 10 subjects x 100 places ("Aerial imagery Kuching 10"), so
the search "imagery kuching 10" matches 0.1% of the catalogue (100 products at 100k), like
a specific real query; the broader "imagery kuching" (1%, 1,000 products) is measured too
and printed beside it.
"""

from __future__ import annotations

import time

from .common import bench_line

SUBJECTS = ["Cadastral parcels", "Survey control points", "Topographic sheet", "Aerial imagery", "Boundaries",
            "Elevation grid", "Road network", "Hydrography", "Land use", "Geodetic benchmarks"]
PLACES = [f"{town} {n}" for n, town in enumerate(["Kuching", "Petaling", "Klang", "Ipoh", "Kuantan", "Melaka",
                                                  "Seremban", "Alor Setar", "Kota Bharu", "Sandakan"] * 10)]
STATES = ["Johor", "Kedah", "Kelantan", "Melaka", "Negeri Sembilan", "Pahang", "Perak", "Perlis", "Pulau Pinang",
          "Sabah", "Sarawak", "Selangor", "Terengganu"]
FORMATS = ["CSV", "GeoJSON", "GeoPackage", "GeoTIFF", "Shapefile", "ZIP"]
CATEGORIES = 50

LIST_PATH = "/catalog/?category=cat-7&page=2"
SEARCH_PATH = "/catalog/?q=imagery+kuching+10"
BROAD_SEARCH_PATH = "/catalog/?q=imagery+kuching"
SCALE_PATH = "/catalog/?page=2"  # full pages at both sizes


def seed_catalogue(app, n: int) -> None:
    """n published products (plus 50 categories) into the app's database, fast."""
    from sqlalchemy import insert, text

    from ebiz.catalog.models import Category, Product
    from ebiz.clock import utcnow
    from ebiz.extensions import db

    t0 = time.time()
    with app.app_context():
        db.session.execute(insert(Category), [{"slug": f"cat-{i}", "name_ms": f"Kategori {i}",
                                               "name_en": f"Category {i}"} for i in range(CATEGORIES)])
        cat_ids = [r[0] for r in db.session.execute(text("SELECT id FROM category ORDER BY id"))]
        now = utcnow()
        batch = []
        for i in range(n):
            subject = SUBJECTS[i % len(SUBJECTS)]
            place = PLACES[(i // len(SUBJECTS)) % len(PLACES)]
            batch.append({
                "sku": f"B-{i:07d}", "slug": f"bench-{i:07d}", "type": "digital",
                "name": f"{subject} {place} {i:06d}",
                "description": f"{subject} covering {place}, release {2020 + i % 6}.",
                "category_id": cat_ids[i % CATEGORIES], "price_sen": 1000 + (i * 37) % 90000,
                "status": "published", "restricted": False, "licence_key": "standard-digital-data",
                "state": STATES[i % len(STATES)], "district": place, "data_format": FORMATS[i % len(FORMATS)],
                "download_limit": 5, "download_window_days": 30, "created_at": now, "updated_at": now})
            if len(batch) == 10_000:
                db.session.execute(insert(Product), batch)
                batch = []
        if batch:
            db.session.execute(insert(Product), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # The steady state of a live catalogue (autovacuum has run): statistics, visibility map.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE product"))
                conn.execute(text("VACUUM ANALYZE category"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    print(f"catalog: {n} products seeded in {time.time() - t0:.1f}s", flush=True)


def _check(url: str, expect: bytes) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (loopback)
        body = r.read()
    if r.status != 200 or expect not in body:
        raise RuntimeError(f"{url} did not return the expected page (status {r.status})")


def run(ctx) -> list[str]:
    app = ctx.ebiz_app()
    seed_catalogue(app, 100_000)
    _check(ctx.ebiz_url + LIST_PATH, b"product-card")
    _check(ctx.ebiz_url + SEARCH_PATH, b"Aerial imagery Kuching 10 ")
    _check(ctx.ebiz_url + BROAD_SEARCH_PATH, b"Aerial imagery Kuching")
    lines = []
    floor_list = ctx.floor_url + "/list?page=1"

    print("catalog_list: eBiz listing (category filter, page 2) vs floor /list", flush=True)
    c = ctx.compare(ctx.ebiz_url + LIST_PATH, floor_list)
    lines.append(bench_line("catalog_list", c.ratio, ">=0.4", f"ebiz={c.a_rps:.1f}/s floor={c.b_rps:.1f}/s"))

    print("catalog_search: eBiz full-text search (0.1% of the catalogue match) vs floor /list", flush=True)
    c = ctx.compare(ctx.ebiz_url + SEARCH_PATH, floor_list)
    print("catalog_search, broad: 1% of the catalogue match", flush=True)
    b = ctx.compare(ctx.ebiz_url + BROAD_SEARCH_PATH, floor_list)
    lines.append(bench_line("catalog_search", c.ratio, ">=0.4", f"ebiz={c.a_rps:.1f}/s floor={c.b_rps:.1f}/s "
                            f"(100 hits); broad query (1,000 hits) ratio={b.ratio:.2f}"))

    print("catalog_scale: the same listing page at 1,000 vs 100,000 products", flush=True)
    small_url = ctx.new_db_url("ebiz1k")
    small_app = ctx.ebiz_app(small_url)
    with small_app.app_context():
        from ebiz.extensions import db

        db.create_all()
        db.engine.dispose()
    seed_catalogue(small_app, 1_000)
    small = ctx.start_ebiz({"DATABASE_URL": small_url}, name="ebiz-1k")
    try:
        _check(small.url + SCALE_PATH, b"product-card")
        c = ctx.compare(small.url + SCALE_PATH, ctx.ebiz_url + SCALE_PATH)
        # ratio = req/s at 1k / req/s at 100k: how many times slower the big catalogue is.
        s = ctx.compare(small.url + SEARCH_PATH, ctx.ebiz_url + SEARCH_PATH, rounds=1)
    finally:
        small.stop()
    lines.append(bench_line("catalog_scale", c.ratio, "<=1.5",
                            f"(100k products vs 1k, same page) 1k={c.a_rps:.1f}/s 100k={c.b_rps:.1f}/s; "
                            f"search 1k/100k={s.ratio:.2f}"))
    return lines
