"""legacy_import: `flask migration import` of a generated old-system export (issue 15).

100,000 customers (60% with a balance) and 300,000 orders by default
(BENCH_LEGACY_CUSTOMERS to change), written by ebiz.migration.sample, imported through
`importer.import_export` (validation pass, then batched Core INSERTs and the opening ledger
postings) into the bench database. Prints rows per second and the resident memory at the start
and at its peak during the import (flat memory: the peak does not grow with the export).

    python -m tests.bench.legacy_import        # alone, on a private PostgreSQL schema
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

TARGET = ">=1000"  # rows/s: 400,000 rows in under 7 minutes


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(app, tmp: Path, customers: int) -> str:
    from ebiz.catalog.models import Product
    from ebiz.catalog.service import known_skus
    from ebiz.extensions import db
    from ebiz.migration import importer
    from ebiz.migration.sample import DEMO_SKUS, write_sample
    from ebiz.wallet import service as wallet

    with app.app_context():
        have = known_skus()
        for sku in DEMO_SKUS:
            if sku not in have:
                db.session.add(Product(sku=sku, slug=f"legacy-{sku.lower()}", type="printed", name=sku,
                                       price_sen=1000, status="published", stock=1))
        db.session.commit()
        export = tmp / "legacy_export"
        t0 = time.time()
        rows = write_sample(export, customers=customers, orders_per_customer=3.0, faults=False)
        total = sum(rows.values())
        print(f"legacy_import: wrote {rows} in {time.time() - t0:.0f}s", flush=True)
        rss = {"start": _rss_mb(), "peak": _rss_mb()}
        done = [0]

        def progress(n: int) -> None:
            done[0] += n
            rss["peak"] = max(rss["peak"], _rss_mb())
            if done[0] % 50000 < n:
                print(f"legacy_import: {done[0]}/{total} rows, {time.time() - t0:.0f}s, "
                      f"rss {rss['peak']:.0f} MB", flush=True)

        t0 = time.time()
        report = importer.import_export(export, progress=progress)
        seconds = time.time() - t0
        problems = report.control + [str(f) for f in report.faults[:3]] + wallet.verify()[:3]
        db.session.remove()
    status = "ok" if not problems else f"PROBLEMS: {problems[:3]}"
    return (f"BENCH legacy_import    rows_per_s={total / seconds:.0f} target{TARGET}  rows={total} "
            f"seconds={seconds:.0f} rss_start_mb={rss['start']:.0f} rss_peak_mb={rss['peak']:.0f} {status}")


def run(ctx) -> list[str]:
    customers = int(os.environ.get("BENCH_LEGACY_CUSTOMERS", "100000"))
    return [measure(ctx.ebiz_app(), Path(ctx.tmp), customers)]


def main() -> int:
    from config import TestingConfig
    from ebiz import create_app
    from ebiz.extensions import db
    from tests.services import private_pg_schema

    customers = int(os.environ.get("BENCH_LEGACY_CUSTOMERS", "100000"))
    with private_pg_schema("bench_legacy") as url, tempfile.TemporaryDirectory() as tmp:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = url

        app = create_app(Config)
        with app.app_context():
            db.create_all()
        print(measure(app, Path(tmp), customers))
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
