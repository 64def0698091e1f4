"""`make bench`: eBiz beside the floor, one run, BENCH lines printed last.

    python -m tests.bench.run                # every benchmark
    python -m tests.bench.run catalog link   # only these modules

Modules run in this order; each returns its BENCH lines (see common.py):
catalog (catalog_list, catalog_search, catalog_scale), wallet_spend,
link (link_issue), download (download_local), legacy_import (rows per second, issue 15).
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from .common import ORDER, failed_line, make_context

MODULES = {
    "catalog": (["catalog_list", "catalog_search", "catalog_scale"], ">=0.4"),
    "wallet_spend": (["wallet_spend"], ">=0.5"),
    "link": (["link_issue"], ">=0.5"),
    "download": (["download_local"], ">=0.8"),
    "legacy_import": (["legacy_import"], ">=1000"),
}
TARGETS = {"catalog_list": ">=0.4", "catalog_search": ">=0.4", "catalog_scale": "<=1.5",
           "wallet_spend": ">=0.5", "link_issue": ">=0.5", "download_local": ">=0.8",
           "legacy_import": ">=1000"}


def main(argv: list[str]) -> int:
    wanted = argv or list(MODULES)
    unknown = [w for w in wanted if w not in MODULES]
    if unknown:
        print(f"unknown bench modules: {unknown}; known: {list(MODULES)}", file=sys.stderr)
        return 2
    t0 = time.time()
    ctx = make_context()
    lines: list[str] = []
    try:
        print(f"bench: database {'PostgreSQL' if ctx.is_postgres else 'SQLite'}, tmp {ctx.tmp}", flush=True)
        app = ctx.ebiz_app()
        with app.app_context():
            from ebiz.extensions import db

            db.create_all()
            db.engine.dispose()
        print("bench: floor data (100,000 rows, 100 MB file) ...", flush=True)
        ctx.init_floor()
        ctx.floor = ctx.start_floor()
        ctx.ebiz = ctx.start_ebiz()
        print(f"bench: ebiz {ctx.ebiz_url} (pid {ctx.ebiz.pid}), floor {ctx.floor_url} (pid {ctx.floor.pid})",
              flush=True)
        for name in wanted:
            names, _ = MODULES[name]
            print(f"\n== {name} ==", flush=True)
            try:
                module = importlib.import_module(f"tests.bench.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"tests.bench.{name}":
                    raise
                lines += [failed_line(n, TARGETS[n], f"tests/bench/{name}.py is missing") for n in names]
                continue
            try:
                lines += module.run(ctx)
            except Exception as exc:  # noqa: BLE001 (one failing benchmark must not hide the others)
                traceback.print_exc()
                lines += [failed_line(n, TARGETS[n], f"{type(exc).__name__}: {exc}".splitlines()[0])
                          for n in names]
    finally:
        ctx.close()
    print(f"\nbench: {time.time() - t0:.0f}s", flush=True)
    for n in ORDER:
        for line in lines:
            if line.split()[1] == n:
                print(line)
    for line in lines:  # eBiz's own measures (legacy_import), after the floor's fixed ORDER
        if line.split()[1] not in ORDER:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
