"""MAIL_DELIVERY: `inline` sends after the outermost commit only; `worker` leaves the rows to
`flask notifications worker`, which claims them (SKIP LOCKED on PostgreSQL), retries with
backoff and stops on SIGTERM."""

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.notifications import service
from ebiz.notifications.models import MAX_ATTEMPTS, OutboxMessage
from tests.factories import csrf_from, make_user
from tests.notifications.helpers import Inbox
from tests.services import free_port


@pytest.fixture
def worker_mode(app):
    app.config["MAIL_DELIVERY"] = "worker"
    yield
    app.config["MAIL_DELIVERY"] = "inline"


class _Someone:
    full_name = display_name = "Someone"
    email = "someone@example.my"


def _queue(to="someone@example.my"):
    return service.queue_mail(to, "Hello", "password_changed", user=_Someone())


def _statuses():
    db.session.rollback()  # see what other sessions committed
    return sorted(db.session.scalars(select(OutboxMessage.status)))


def _forgot(client, address):
    page = client.get("/account/forgot")
    return client.post("/account/forgot", data={"csrf_token": csrf_from(page.data), "email": address})


# -- inline --------------------------------------------------------------------------------
def test_inline_sends_after_the_outer_commit_not_when_a_savepoint_is_released(app, smtp):
    _queue("a@example.my")
    with db.session.begin_nested():  # e.g. a payment's savepoint, released before the request commits
        _queue("b@example.my")
    assert smtp.messages == []
    db.session.commit()
    assert sorted(r[0] for r, _m in smtp.messages) == ["a@example.my", "b@example.my"]
    assert _statuses() == ["sent", "sent"]


def test_inline_rolled_back_savepoint_drops_only_its_own_mail(app, smtp):
    _queue("kept@example.my")
    with pytest.raises(RuntimeError), db.session.begin_nested():
        _queue("gone@example.my")
        db.session.flush()
        raise RuntimeError("refused")
    db.session.commit()
    assert [r for r, _m in smtp.messages] == [["kept@example.my"]]
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_inline_rollback_sends_nothing(app, smtp):
    _queue()
    db.session.rollback()
    db.session.commit()
    assert smtp.messages == [] and _statuses() == []


# -- worker ----------------------------------------------------------------------------------
def test_worker_mode_request_only_writes_the_outbox_and_the_worker_sends_it(app, client, smtp, worker_mode):
    user = make_user()
    assert _forgot(client, user.email).status_code == 302
    assert smtp.messages == []  # the request did not talk to SMTP: no timing difference to an unknown address
    assert _statuses() == ["pending"]
    result = app.test_cli_runner().invoke(args=["notifications", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output
    assert [r for r, _m in smtp.messages] == [[user.email]]
    assert _statuses() == ["sent"]


def test_worker_sends_a_batch_over_one_connection_in_order(app, smtp, worker_mode):
    for i in range(5):
        _queue(f"u{i}@example.my")
    db.session.commit()
    assert smtp.messages == []
    assert service.run_worker(batch_size=2, once=True) == (5, 0)
    assert [r[0] for r, _m in smtp.messages] == [f"u{i}@example.my" for i in range(5)]
    assert _statuses() == ["sent"] * 5


def test_worker_failure_backs_off_then_succeeds(app, worker_mode):
    _queue()
    db.session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)  # nothing listens
    try:
        assert service.work_once() == (1, 0, 1)
        db.session.rollback()
        msg = db.session.scalars(select(OutboxMessage)).one()
        assert (msg.status, msg.attempts) == ("pending", 1) and msg.last_error
        assert msg.next_attempt_at >= utcnow() + service.backoff(1) - timedelta(seconds=5)
        assert service.work_once() == (0, 0, 0)  # not due yet: not attempted again
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            app.config["MAIL_PORT"] = controller.port
            assert service.work_once(now=utcnow() + timedelta(hours=2)) == (1, 1, 0)
        finally:
            controller.stop()
        assert len(inbox.messages) == 1
        db.session.rollback()
        msg = db.session.get(OutboxMessage, msg.id)
        assert (msg.status, msg.attempts, msg.next_attempt_at) == ("sent", 2, None)
    finally:
        app.config.update(MAIL_SERVER="", MAIL_PORT=25, MAIL_TIMEOUT=10)


def test_worker_gives_up_after_max_attempts(app, worker_mode):
    _queue()
    db.session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    try:
        later = utcnow()
        for _ in range(MAX_ATTEMPTS):
            later += timedelta(hours=2)
            assert service.work_once(now=later)[0] == 1
        assert service.work_once(now=later + timedelta(days=1)) == (0, 0, 0)
    finally:
        app.config.update(MAIL_SERVER="", MAIL_PORT=25, MAIL_TIMEOUT=10)
    db.session.rollback()
    msg = db.session.scalars(select(OutboxMessage)).one()
    assert (msg.status, msg.attempts) == ("failed", MAX_ATTEMPTS)


def test_backoff_grows_and_is_capped():
    delays = [service.backoff(n).total_seconds() for n in range(1, 12)]
    assert delays[:3] == [30, 60, 120] and delays == sorted(delays) and max(delays) == service.RETRY_MAX_SECONDS


def test_two_workers_claim_different_rows(app, is_postgres, worker_mode):
    for i in range(4):
        _queue(f"u{i}@example.my")
    db.session.commit()
    with Session(db.engine) as a, Session(db.engine) as b:
        first = [m.id for m in service.claim(a, 2)]
        second = [m.id for m in service.claim(b, 10)]
        if is_postgres:  # the first worker's rows are locked and skipped, not waited for
            assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
        else:  # SQLite has no row locks: one worker (documented); both see every due row
            assert len(first) == 2 and len(second) == 4
        a.rollback()
        b.rollback()


def test_worker_stops_cleanly_on_sigterm(app, worker_mode):
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    t0 = time.monotonic()
    timer.start()
    try:
        result = app.test_cli_runner().invoke(args=["notifications", "worker", "--interval", "30"])
    finally:
        timer.cancel()
    assert result.exit_code == 0, result.output
    assert "(stopped)" in result.output and time.monotonic() - t0 < 10
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def test_worker_stop_event_leaves_unsent_rows_pending(app, smtp, worker_mode):
    for i in range(3):
        _queue(f"u{i}@example.my")
    db.session.commit()
    stop = threading.Event()
    stop.set()
    assert service.work_once(10, stop=stop) == (3, 0, 0)
    assert smtp.messages == [] and _statuses() == ["pending"] * 3


def test_held_mail_is_added_on_release_and_dropped_on_discard(app, smtp):
    assert service.hold_mail() is True
    assert service.hold_mail() is False  # already holding: the outer holder releases
    _queue("held@example.my")
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    service.release_held_mail()
    service.hold_mail()
    _queue("dropped@example.my")
    service.release_held_mail(discard=True)
    db.session.commit()
    assert [r for r, _m in smtp.messages] == [["held@example.my"]]
    assert _statuses() == ["sent"]


def test_retry_leaves_alone_a_row_a_worker_is_sending(app, smtp, worker_mode, is_postgres):
    """`flask notifications retry` beside a running worker: the row the worker holds is not sent again."""
    _queue("a@example.my")
    db.session.commit()
    db.session.close()
    worker = Session(db.engine, expire_on_commit=False)
    claimed = service.claim(worker, 50)  # the worker's transaction stays open while it sends
    transport = service._Transport()
    assert len(claimed) == 1 and service._attempt(transport, claimed[0]) is None
    transport.close()
    if is_postgres:  # on SQLite a single worker runs (no row locks): nothing to race there
        assert service.retry_pending() == (0, 0)
    service._record(claimed[0], None, utcnow())
    worker.commit()
    worker.close()
    assert len(smtp.messages) == 1 and _statuses() == ["sent"]


def test_a_message_that_cannot_be_built_fails_alone_and_the_batch_goes_out(app, smtp, worker_mode):
    for to in ("good1@example.my", "a@", "good2@example.my"):  # "a@": bad data on file
        _queue(to)
    db.session.commit()
    assert service.work_once() == (3, 2, 1)
    assert service.work_once()[0] == 0  # nothing sent twice
    assert sorted(rcpt[0] for rcpt, _m in smtp.messages) == ["good1@example.my", "good2@example.my"]
    assert _statuses() == ["pending", "sent", "sent"]  # the bad one waits for its next attempt
