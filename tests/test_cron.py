"""Cron commands on two hosts at once (ebiz/cron.py): one run works, the other does nothing.

Hosts are threads here, each with its own app context and connections, as two processes would
have; both start at a barrier.
"""

import threading
import time
from datetime import timedelta

import click
from sqlalchemy import text

from ebiz import cron
from ebiz.extensions import db
from ebiz.payments import service as payments
from ebiz.payments.cli import reconcile
from tests.factories import make_user
from tests.payments.helpers import topup_intent


def _two_hosts(app, fn) -> list:
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def host(i):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[i] = fn()
            except Exception as exc:  # noqa: BLE001 (reported in the assertion)
                results[i] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=host, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _run(command, **params):
    """The command as cron runs it (`flask payments reconcile`), in this thread's app context."""
    with click.Context(command):
        return command.callback(**params)


def test_the_lock_is_held_by_one_run_and_free_after_it(app):
    inside = threading.Event()
    release = threading.Event()

    def first():
        with app.app_context(), cron.exclusive("test job") as held:
            inside.set()
            release.wait(timeout=10)
            return held

    outcome = {}
    t = threading.Thread(target=lambda: outcome.setdefault("first", first()))
    t.start()
    assert inside.wait(timeout=10)
    with cron.exclusive("test job") as second:
        assert second is False  # another run holds it: do nothing
    with cron.exclusive("another job") as other:
        assert other is True  # one lock per command
    release.set()
    t.join(timeout=10)
    assert outcome["first"] is True
    with cron.exclusive("test job") as again:
        assert again is True  # released when the first run ended


def test_two_concurrent_reconciles_never_requery_one_payment_twice(app, monkeypatch, capsys):
    user = make_user(tier="primary")
    intents = [topup_intent(user) for _ in range(3)]
    db.session.execute(text("UPDATE payment_intent SET created_at = :t"),
                       {"t": intents[0].created_at - timedelta(hours=1)})
    db.session.commit()
    seen: list[int] = []
    real = payments.reconcile_one

    def slow_reconcile_one(intent_id, now=None):
        seen.append(intent_id)
        time.sleep(0.1)  # both runs are surely at work at once, if both may work
        return real(intent_id, now)

    monkeypatch.setattr(payments, "reconcile_one", slow_reconcile_one)
    monkeypatch.setattr(payments, "refresh", lambda intent, source: "pending")  # the bank: "not yet"
    results = _two_hosts(app, lambda: _run(reconcile, limit=500))

    assert results == [None, None]
    assert sorted(seen) == sorted(i.id for i in intents)  # each once, by one of the runs
    out = capsys.readouterr().out
    assert out.count("another run") == 1 and out.count("3 requeried") == 1
    db.session.expire_all()
    counts = db.session.execute(text("SELECT requery_count FROM payment_intent")).scalars().all()
    assert counts == [1, 1, 1]  # the backoff advanced once, not twice
