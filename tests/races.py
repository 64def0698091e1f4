"""Racing requests in tests: each thread has its own app context (its own scoped session), as
separate requests would, and starts its write transaction as the request hook does for a POST."""

import threading

from ebiz.db import begin_write
from ebiz.errors import EbizError
from ebiz.extensions import db


def race(app, fn, args_list) -> list[str]:
    """Run `fn(*args)` for each args at once, each committed; "ok" or the error's name (or repr) each."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def run(i, args):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                begin_write()  # as the request hook does for every POST
                fn(*args)
                db.session.commit()
                results[i] = "ok"
            except EbizError as exc:
                db.session.rollback()
                results[i] = type(exc).__name__
            except Exception as exc:  # noqa: BLE001 (reported in the assertion)
                db.session.rollback()
                results[i] = repr(exc)[:300]
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
