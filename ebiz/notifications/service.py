"""Outgoing mail through the outbox.

`queue_mail` renders a message from `templates/notifications/<name>.txt` (and `.html` when
present) into an outbox row of the current transaction: the mail exists if and only if the
action that caused it commits. It does not flush by itself; the row is written with the
transaction's other rows.

Who sends the rows depends on `MAIL_DELIVERY`:

- `inline` (the default; `make run`, the console, tests): when the session's OUTERMOST
  transaction commits, the rows it queued are sent at once, in the same process. Releasing or
  rolling back a savepoint neither sends nor forgets anything (SQLAlchemy fires its commit and
  rollback events for savepoints too). A send that fails leaves the row pending; it never
  undoes the commit.
- `worker` (production): requests only write rows. `flask notifications worker` sends them
  (`run_worker`): it claims a batch of due pending rows (`SELECT ... FOR UPDATE SKIP LOCKED`
  on PostgreSQL, so several workers never send the same row; on SQLite run one worker), sends
  them over one SMTP connection, records each outcome, commits, and repeats; when nothing is
  due it sleeps. A failed send is retried after a growing delay (`backoff`), up to
  `MAX_ATTEMPTS`. SIGTERM/SIGINT stop it between two messages; rows it had not sent stay
  pending. The request never waits for SMTP, so a request's timing says nothing about
  whether a mail was sent (e.g. "forgot password" for a real account vs an unknown address).

Either way the transport is SMTP when `MAIL_SERVER` is set, else the console (stderr).
Delivery is at least once: a process that dies between sending and committing the outcome
sends that message again later.
"""

from __future__ import annotations

import smtplib
import sys
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from flask_sqlalchemy.session import Session as FlaskSession
from jinja2 import TemplateNotFound
from sqlalchemy import event, func, inspect, or_, select
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db import backoff_seconds, begin_write
from ..extensions import db
from .models import MAX_ATTEMPTS, OutboxMessage

_PENDING_KEY = "outbox_pending"
_HOLD_KEY = "outbox_hold"
DELIVERY_MODES = ("inline", "worker")
RETRY_BASE_SECONDS = 30  # first retry after 30 s, then 60 s, 120 s, ... (capped)
RETRY_MAX_SECONDS = 3600
_NO_HTML: set[str] = set()  # templates known to have no .html part (when templates do not auto-reload)


def delivery_mode() -> str:
    mode = current_app.config.get("MAIL_DELIVERY") or "inline"
    if mode not in DELIVERY_MODES:
        raise RuntimeError(f"MAIL_DELIVERY must be one of {DELIVERY_MODES}, not {mode!r}")
    return mode


def prepare_mail(to: str, subject: str, template: str, *, reply_to: str | None = None, **context) -> OutboxMessage:
    """Render an email into an outbox row that is NOT yet in the session (see `queue`): lets a
    caller render outside a lock window and add the row later."""
    body_text = render_template(f"notifications/{template}.txt", **context)
    body_html = None
    if template not in _NO_HTML:
        try:
            body_html = render_template(f"notifications/{template}.html", **context)
        except TemplateNotFound:
            if not current_app.jinja_env.auto_reload:
                _NO_HTML.add(template)  # every loader is searched on a miss; remember it
    return OutboxMessage(to_address=to, subject=str(subject), body_text=body_text,
                         body_html=body_html, template=template, status="pending", attempts=0, reply_to=reply_to)


def hold_mail() -> bool:
    """From now on, mail queued in this session is held back (not added) until `release_held_mail`:
    a caller that queues mail at several points lets them be written by one INSERT when it
    chooses (e.g. just before its commit). False when a hold was already on (the outer holder
    releases)."""
    if _HOLD_KEY in db.session.info:
        return False
    db.session.info[_HOLD_KEY] = []
    return True


def release_held_mail(*, discard: bool = False) -> None:
    """End the hold: add the held messages to the session (or drop them: the work that queued
    them was undone)."""
    held = db.session.info.pop(_HOLD_KEY, None) or []
    if not discard:
        for msg in held:
            queue(msg)


def queue(msg: OutboxMessage) -> OutboxMessage:
    """Add a prepared message to the outbox of the current transaction."""
    held = db.session.info.get(_HOLD_KEY)
    if held is not None:
        held.append(msg)
        return msg
    db.session.add(msg)
    if delivery_mode() == "inline":
        db.session.info.setdefault(_PENDING_KEY, []).append(msg)
    return msg


def queue_mail(to: str, subject: str, template: str, *, reply_to: str | None = None, **context) -> OutboxMessage:
    """Write an email to the outbox in the current transaction (sent once it commits)."""
    return queue(prepare_mail(to, subject, template, reply_to=reply_to, **context))


@event.listens_for(FlaskSession, "after_commit")
def _send_after_commit(session):
    if session.in_nested_transaction():  # a savepoint was released: the rows are not committed yet
        return
    queued = session.info.pop(_PENDING_KEY, None)
    if not queued:
        return
    # After a commit the objects are expired; their identity (primary key) is still known.
    ids = [key[0] for key in (inspect(m).identity for m in queued) if key is not None]
    if not ids:
        return
    try:
        deliver(ids)
    except Exception:  # noqa: BLE001 (the action is committed: a mail problem must not look like its failure)
        current_app.logger.exception("inline mail delivery failed; the rows stay pending for retry")


@event.listens_for(FlaskSession, "after_rollback")
def _forget_on_rollback(session):
    if session.in_nested_transaction():  # only the savepoint's rows are gone; the rest may still commit
        return
    session.info.pop(_PENDING_KEY, None)


# -- sending -----------------------------------------------------------------------------
def backoff(attempts: int) -> timedelta:
    """How long to wait before the next attempt after `attempts` failed ones."""
    return timedelta(seconds=backoff_seconds(attempts, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS))


def _record(msg: OutboxMessage, error: Exception | None, now) -> bool:
    """Write the outcome of one attempt on the row; True when sent."""
    msg.attempts += 1
    if error is None:
        msg.status, msg.sent_at, msg.last_error, msg.next_attempt_at = "sent", now, None, None
        return True
    msg.last_error = f"{type(error).__name__}: {error}"[:500]
    if msg.attempts >= MAX_ATTEMPTS:
        msg.status, msg.next_attempt_at = "failed", None
    else:
        msg.next_attempt_at = now + backoff(msg.attempts)
    current_app.logger.warning("mail %s to %s not sent (attempt %s): %s", msg.id, msg.to_address,
                               msg.attempts, error)
    return False


class _Transport:
    """One SMTP connection reused for a batch (opened on first use, reopened after an error)."""

    def __init__(self):
        self.smtp = None

    def send(self, msg: OutboxMessage) -> None:
        cfg = current_app.config
        if not cfg["MAIL_SERVER"]:
            print(f"\n----- mail to {msg.to_address}: {msg.subject} -----\n{msg.body_text}\n-----",
                  file=sys.stderr, flush=True)
            return
        try:
            if self.smtp is None:
                self.smtp = _connect(cfg)
            self.smtp.send_message(_build(msg))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


def _connect(cfg):
    smtp_cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    smtp = smtp_cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT"])
    try:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


def _attempt(transport: _Transport, msg: OutboxMessage) -> Exception | None:
    try:
        transport.send(msg)
    except Exception as exc:  # noqa: BLE001 (one message that cannot be built or sent fails alone, not its batch)
        return exc
    return None


def deliver(ids: list[int] | None = None) -> tuple[int, int]:
    """Send the given pending messages (or all pending ones, ignoring their backoff) now, in
    this process, one commit per message. Returns (sent, failed)."""
    sent = failed = 0
    transport = _Transport()
    try:
        with Session(db.engine, expire_on_commit=False) as s:
            q = select(OutboxMessage).where(OutboxMessage.status == "pending")
            if ids is not None:
                q = q.where(OutboxMessage.id.in_(ids))
            msgs = s.scalars(q.order_by(OutboxMessage.id)).all()
            s.commit()  # hold no lock while talking to SMTP
            postgres = s.get_bind().dialect.name == "postgresql"
            for msg in msgs:
                if postgres and s.scalar(  # still pending, and no worker holds it: ours until the commit
                        select(OutboxMessage.id).where(OutboxMessage.id == msg.id, OutboxMessage.status == "pending")
                        .with_for_update(skip_locked=True)) is None:
                    s.commit()
                    continue
                error = _attempt(transport, msg)
                begin_write(s)
                if _record(msg, error, utcnow()):
                    sent += 1
                else:
                    failed += 1
                s.commit()
    finally:
        transport.close()
    return sent, failed


def retry_pending() -> tuple[int, int]:
    """Try again every pending message now (attempt limit: MAX_ATTEMPTS)."""
    return deliver(None)


# -- the worker ------------------------------------------------------------------------------
def _due(now, limit: int):
    return (select(OutboxMessage)
            .where(OutboxMessage.status == "pending",
                   or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.id).limit(limit))


def claim(s: Session, limit: int, now=None) -> list[OutboxMessage]:
    """Due pending rows for this worker. On PostgreSQL they stay locked (FOR UPDATE SKIP LOCKED)
    until `s` commits, and other workers skip them; on SQLite the read ends at once (no row
    locks there; a long write lock would stop every request), so run a single worker."""
    now = now or utcnow()
    if s.get_bind().dialect.name == "sqlite":
        rows = list(s.scalars(_due(now, limit)))
        s.commit()
        return rows
    return list(s.scalars(_due(now, limit).with_for_update(skip_locked=True)))


def work_once(limit: int = 50, *, now=None, stop: threading.Event | None = None) -> tuple[int, int, int]:
    """Claim and send one batch. Returns (claimed, sent, failed)."""
    now = now or utcnow()
    sent = failed = 0
    transport = _Transport()
    with Session(db.engine, expire_on_commit=False) as s:
        try:
            msgs = claim(s, limit, now)
            outcomes = []
            for msg in msgs:
                if stop is not None and stop.is_set():
                    break  # the rest stay pending (their locks go with the commit)
                outcomes.append((msg, _attempt(transport, msg)))
        finally:
            transport.close()
        if outcomes:
            begin_write(s)
        for msg, error in outcomes:
            if _record(msg, error, utcnow()):
                sent += 1
            else:
                failed += 1
        s.commit()
    return len(msgs), sent, failed


def run_worker(*, batch_size: int = 50, idle_seconds: float = 2.0, once: bool = False,
               stop: threading.Event | None = None, log=None) -> tuple[int, int]:
    """Send due outbox rows until `stop` is set (or, with `once`, until none is due).
    Returns the totals (sent, failed)."""
    stop = stop or threading.Event()
    total_sent = total_failed = 0
    while not stop.is_set():
        claimed, sent, failed = work_once(batch_size, stop=stop)
        total_sent, total_failed = total_sent + sent, total_failed + failed
        if log and claimed:
            log(f"claimed {claimed}, sent {sent}, failed {failed}")
        if claimed < batch_size:  # nothing more due right now
            if once:
                break
            stop.wait(idle_seconds)
    return total_sent, total_failed


def _build(msg: OutboxMessage) -> EmailMessage:
    em = EmailMessage()
    em["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    em["To"] = msg.to_address
    em["Subject"] = msg.subject
    em["Message-ID"] = make_msgid(domain="ebiz.example.my")
    if msg.reply_to:
        em["Reply-To"] = msg.reply_to
    em.set_content(msg.body_text)
    if msg.body_html:
        em.add_alternative(msg.body_html, subtype="html")
    return em


__all__ = ["MAX_ATTEMPTS", "backoff", "claim", "deliver", "hold_mail", "prepare_mail", "queue", "queue_mail",
           "release_held_mail", "retry_pending", "run_worker", "work_once"]


# ------------------------------------------------------- development viewer

def outbox_listing():
    """A select() of outbox messages, newest first (the development mail viewer pages it)."""
    return select(OutboxMessage).order_by(OutboxMessage.id.desc())


def outbox_message(message_id: int) -> OutboxMessage | None:
    return db.session.get(OutboxMessage, message_id)


def undelivered_among(ids) -> int:
    """How many of these outbox rows (a list or a SELECT of ids) the mail server has refused so far:
    given up on ("failed"), or waiting to be retried after an error."""
    return int(db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.id.in_(ids), OutboxMessage.status != "sent", OutboxMessage.last_error.is_not(None))) or 0)
