"""The reconciliation console for administrators (issue 17 §3): what needs a person's eye.

- pending past their expected time: online intents still pending after
  RECONCILE_MIN_AGE_SECONDS, with why (the pending reason, the review note, requeries so far);
- paid at the gateway but unsettled in eBiz: intents not succeeded for which the gateway said
  "paid" in an event eBiz rejected or could not apply (say the amount differed);
- duplicates: one payable paid by more than one succeeded intent;
- refunds in flight: approved gateway refunds not yet confirmed (payments.refunds);
- the daily settlement check: what the gateway says it collected that day (`Gateway.collected`)
  against what the ledger took into the gateway clearing account (a source the wallet domain
  registers: payments sits below the ledger and does not read it).

"Requery now" (`requery_now`) asks the gateway about one intent and applies the answer,
audited with the administrator's name, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import and_, func, select

from ..audit.service import record
from ..clock import from_local, utcnow
from ..errors import Forbidden, NotFound
from ..extensions import db
from . import refunds, service
from .gateway import GatewayUnavailable, get_gateway
from .models import IntentStatus, Method, PaymentEvent, PaymentIntent

_SETTLEMENT_SOURCES: list = []


def register_settlement_source(fn) -> None:
    """`fn(start, end) -> (collected_sen, returned_sen)`: what the ledger's gateway clearing account took
    in and paid out between two UTC times (registered by the wallet domain)."""
    if fn not in _SETTLEMENT_SOURCES:
        _SETTLEMENT_SOURCES.append(fn)


def overdue(now=None, limit: int = 200) -> list[PaymentIntent]:
    now = now or utcnow()
    age = timedelta(seconds=current_app.config["RECONCILE_MIN_AGE_SECONDS"])
    return list(db.session.scalars(
        select(PaymentIntent).where(PaymentIntent.status == IntentStatus.PENDING,
                                    PaymentIntent.method.in_(Method.ONLINE), PaymentIntent.created_at <= now - age)
        .order_by(PaymentIntent.created_at).limit(limit)))


def paid_unsettled(limit: int = 200) -> list[tuple[PaymentIntent, PaymentEvent]]:
    """Intents not succeeded whose gateway said "paid" in an event that was not applied (newest such event)."""
    last = (select(func.max(PaymentEvent.id).label("event_id"), PaymentEvent.intent_id)
            .where(PaymentEvent.gateway_status == "paid", PaymentEvent.outcome.in_(("rejected", "unavailable")))
            .group_by(PaymentEvent.intent_id).subquery())
    rows = db.session.execute(
        select(PaymentIntent, PaymentEvent).join(last, last.c.intent_id == PaymentIntent.id)
        .join(PaymentEvent, PaymentEvent.id == last.c.event_id)
        .where(PaymentIntent.status != IntentStatus.SUCCEEDED).order_by(PaymentEvent.id).limit(limit))
    return [(i, e) for i, e in rows]


def duplicates(limit: int = 100) -> list[list[PaymentIntent]]:
    """Payables paid more than once (each group: its succeeded intents, oldest first)."""
    twice = (select(PaymentIntent.kind, PaymentIntent.payable_ref)
             .where(PaymentIntent.status == IntentStatus.SUCCEEDED)
             .group_by(PaymentIntent.kind, PaymentIntent.payable_ref).having(func.count() > 1).limit(limit).subquery())
    intents = db.session.scalars(
        select(PaymentIntent).join(twice, and_(twice.c.kind == PaymentIntent.kind,
                                               twice.c.payable_ref == PaymentIntent.payable_ref))
        .where(PaymentIntent.status == IntentStatus.SUCCEEDED).order_by(PaymentIntent.payable_ref,
                                                                         PaymentIntent.succeeded_at)).all()
    groups: dict[tuple, list] = {}
    for intent in intents:
        groups.setdefault((intent.kind, intent.payable_ref), []).append(intent)
    return list(groups.values())


def refunds_in_flight():
    return db.session.scalars(refunds.in_flight().limit(200)).all()


@dataclass
class Settlement:
    day: object
    gateway: str
    at_gateway: int | None  # None: the gateway could not say
    gateway_error: str
    ledger_collected: int | None
    ledger_returned: int | None
    ebiz_paid: int  # what eBiz recorded as paid through this gateway that day

    @property
    def matches(self) -> bool | None:
        if self.at_gateway is None or self.ledger_collected is None:
            return None
        return self.at_gateway == self.ledger_collected


def day_bounds(day) -> tuple[datetime, datetime]:
    """A Malaysian calendar day as naive UTC times [start, end)."""
    start_utc = from_local(datetime.combine(day, time(0)))
    return start_utc, start_utc + timedelta(days=1)


def settlement(day) -> Settlement:
    start, end = day_bounds(day)
    name = current_app.config["PAYMENT_GATEWAY"]
    at_gateway, error = None, ""
    try:
        at_gateway = get_gateway(name).collected(start, end)
    except GatewayUnavailable as exc:
        error = str(exc)[:200]
    ledger = [fn(start, end) for fn in _SETTLEMENT_SOURCES]
    collected = sum(c for c, _ in ledger) if ledger else None
    returned = sum(r for _, r in ledger) if ledger else None
    ebiz_paid = db.session.scalar(select(func.coalesce(func.sum(PaymentIntent.amount_sen), 0)).where(
        PaymentIntent.status == IntentStatus.SUCCEEDED, PaymentIntent.gateway == name,
        PaymentIntent.succeeded_at >= start, PaymentIntent.succeeded_at < end))
    return Settlement(day, name, at_gateway, error, collected, returned, int(ebiz_paid))


def requery_now(staff, reference: str, *, ip: str | None = None) -> str:
    """Ask the gateway about one pending intent now and apply the answer; audited."""
    if not staff.is_staff:
        raise Forbidden()
    intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))
    if intent is None:
        raise NotFound()
    before = intent.status
    outcome = service.refresh(intent, source="console")
    intent = db.session.get(PaymentIntent, intent.id)
    record("payment.requeried", actor=staff, target=intent, ip=ip, reference=reference, outcome=outcome,
           before=before, after=intent.status)
    return outcome

