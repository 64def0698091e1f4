"""Gapless document numbers, including under concurrent transactions."""

import threading

from ebiz.extensions import db
from ebiz.sequences import next_number


def test_numbers_run_in_sequence(app):
    first = next_number("TST")
    second = next_number("TST")
    db.session.commit()
    assert first.endswith("-000001") and second.endswith("-000002")


def test_rolled_back_number_is_reused(app):
    next_number("TST")
    db.session.commit()
    next_number("TST")
    db.session.rollback()
    assert next_number("TST").endswith("-000002")


def test_concurrent_numbers_have_no_gaps_or_twins(app):
    next_number("CON")
    db.session.commit()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                results.append(next_number("CON"))
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(int(r.rsplit("-", 1)[1]) for r in results) == list(range(2, 10))
