"""download_local: several concurrent downloads of a 100 MB file through eBiz's signed link
(checked, recorded, send_file) beside the floor's /file (send_file), with dl_client.py, in
alternating rounds; peak resident memory of each serving process tree (gunicorn master + workers)
sampled every 0.1 s while it serves."""

from __future__ import annotations

import statistics
import threading
import time

from .common import bench_line, process_tree_rss_mb
from .link import entitled_customer

CONNS = 4
SECONDS = 8
ROUNDS = 3


class PeakRSS:
    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, process_tree_rss_mb(self.pid))
            time.sleep(0.1)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def run(ctx) -> list[str]:
    floor_file = ctx.tmp / "floor.bin"
    _, ent_ref, file_ref, user_id = entitled_customer(ctx, src_path=str(floor_file), filename="floor.bin")
    app = ctx.ebiz_app()
    with app.app_context():
        from ebiz.accounts.models import User
        from ebiz.delivery import service
        from ebiz.extensions import db

        token = service.issue_link(db.session.get(User, user_id), ent_ref, file_ref, ip="127.0.0.1")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    ebiz_url = f"{ctx.ebiz_url}/downloads/d/{token}"
    floor_url = ctx.floor_url + "/file"
    idle = {"ebiz": process_tree_rss_mb(ctx.ebiz.pid), "floor": process_tree_rss_mb(ctx.floor.pid)}
    rates = {"ebiz": [], "floor": []}
    peaks = {"ebiz": 0.0, "floor": 0.0}
    for i in range(ROUNDS):
        for name, url, pid in (("ebiz", ebiz_url, ctx.ebiz.pid), ("floor", floor_url, ctx.floor.pid)):
            with PeakRSS(pid) as watch:
                res = ctx.download(url, conns=CONNS, seconds=SECONDS)
            if res.get("errors") or not res.get("downloads"):
                raise RuntimeError(f"{name} downloads failed: {res}")
            rates[name].append(res["value"])
            peaks[name] = max(peaks[name], watch.peak)
        print(f"round {i + 1}: ebiz {rates['ebiz'][-1]} MiB/s, floor {rates['floor'][-1]} MiB/s", flush=True)
    e, f = statistics.median(rates["ebiz"]), statistics.median(rates["floor"])
    return [bench_line("download_local", e / f, ">=0.8",
                       f"peak_rss_mb={peaks['ebiz']:.0f} (idle {idle['ebiz']:.0f}; floor {peaks['floor']:.0f}, "
                       f"idle {idle['floor']:.0f}) ebiz={e:.0f}MiB/s floor={f:.0f}MiB/s "
                       f"{CONNS} concurrent downloads of a 100 MB file")]
