"""Refunds to the payer through the gateway (issue 17 §2).

Money on the staff refund queue (`service.queue_refund`) that was paid online can go back the
way it came instead of by bank transfer:

1. `approve(staff, reference)`: staff approve; under the refund row's lock, an open refund not
   yet sent is marked "issuing" (who, when) and audited. Two staff approving at once: the
   second finds it issuing and is refused (one gateway refund). The view commits.
2. `issue(reference)`: after that commit, outside any lock, the gateway's refund call with
   eBiz's own idempotency key `ebiz-refund-<refund reference>` (retried, it cannot refund
   twice); the answer is then applied under the lock.
3. `apply_gateway_status(refund, status)`: "succeeded" completes the refund: the queue entry
   is done, the registered refund handlers run (the wallet domain books the money leaving
   the gateway clearing account) and the customer is emailed; "failed" leaves it open for
   staff to return by bank transfer; "pending" waits for the gateway's refund event
   (Stripe: refund.updated / charge.refund.updated, through `service.handle_callback`).
   The sandbox answers at once; Stripe usually answers "pending" for FPX, "succeeded" for cards.

A gateway that cannot answer leaves the refund "issuing": `issue` may be run again (the
same key), by `flask payments reconcile` (`unsent`).
The credit note stays with the payable's domain (orders issue it when an order is cancelled).
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..audit.service import record
from ..clock import utcnow
from ..db import lock_one
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..notifications.service import queue_mail
from . import service
from .gateway import GatewayResult, GatewayUnavailable, get_gateway
from .models import Method, RefundRequest, RefundStatus

ISSUING, PENDING, SUCCEEDED, FAILED = "issuing", "pending", "succeeded", "failed"


def _locked(reference: str) -> RefundRequest:
    refund = lock_one(select(RefundRequest).where(RefundRequest.reference == reference), of=RefundRequest)
    if refund is None:
        raise NotFound()
    return refund


def can_use_gateway(refund: RefundRequest) -> bool:
    intent = refund.intent
    return intent is not None and intent.method in Method.ONLINE and bool(intent.gateway) \
        and intent.status == "succeeded" and hasattr(get_gateway(intent.gateway), "refund")


def approve(staff, reference: str, *, ip: str | None = None) -> RefundRequest:
    """Staff approve returning a queued refund through the gateway (see module docstring, 1)."""
    if not staff.is_staff:
        raise Forbidden()
    refund = _locked(reference)
    if refund.status != RefundStatus.OPEN:
        raise Conflict(_l("This refund has already been resolved."))
    if refund.gateway_status in (ISSUING, PENDING):
        raise Conflict(_l("This refund is already being returned through the gateway."))
    if refund.gateway_status == FAILED:
        raise Conflict(_l("The gateway refused this refund: return the money by bank transfer."))
    if not can_use_gateway(refund):
        raise ValidationError(_l("This payment was not made online: return the money by bank transfer."))
    refund.gateway_status, refund.issued_by_id, refund.issued_at = ISSUING, staff.id, utcnow()
    record("payment.refund_approved", actor=staff, target=refund, ip=ip, reference=refund.reference,
           amount_sen=refund.amount_sen, intent=refund.intent.reference)
    return refund


def issue(reference: str) -> str:
    """Send an approved refund to the gateway (after `approve` was committed); returns its gateway status
    or "unavailable". Safe to run again: the gateway sees the same idempotency key."""
    refund = db.session.scalar(select(RefundRequest).where(RefundRequest.reference == reference))
    if refund is None:
        raise NotFound()
    if refund.gateway_status != ISSUING or refund.status != RefundStatus.OPEN:
        return refund.gateway_status or "unchanged"
    intent = refund.intent
    try:
        refund_id, status = get_gateway(intent.gateway).refund(
            intent, refund.amount_sen, key=f"ebiz-refund-{refund.reference}", refund_ref=refund.reference)
    except GatewayUnavailable as exc:
        current_app.logger.warning("gateway refund %s not sent: %s", reference, exc)
        return "unavailable"
    refund = _locked(reference)
    if refund_id and not refund.gateway_refund_id:
        refund.gateway_refund_id = refund_id[:64]
    return apply_gateway_status(refund, status, source="issue")


def apply_gateway_status(refund: RefundRequest, status: str, *, source: str) -> str:
    """What the gateway says about a refund it was sent (under the refund row's lock)."""
    if refund.status != RefundStatus.OPEN or refund.gateway_status not in (ISSUING, PENDING):
        return "duplicate"
    if status == SUCCEEDED:
        refund.gateway_status = SUCCEEDED
        refund.status, refund.resolved_at = RefundStatus.DONE, utcnow()
        refund.resolved_by_id = refund.issued_by_id
        refund.resolution_note = f"gateway refund {refund.gateway_refund_id or ''}".strip()[:300]
        for handler in service._REFUND_HANDLERS:
            handler(refund)
        record("payment.refund_resolved", target=refund, reference=refund.reference, amount_sen=refund.amount_sen,
               via="gateway", source=source)
        _mail(refund)
        return "applied"
    if status == FAILED:
        refund.gateway_status = FAILED
        record("payment.refund_failed", target=refund, reference=refund.reference, source=source)
        return "applied"
    refund.gateway_status = PENDING
    return "noted"


def _mail(refund: RefundRequest) -> None:
    user = refund.user
    if user is not None and user.email:
        queue_mail(user.email, _l("Refund %(ref)s", ref=refund.reference), "payments_refunded", refund=refund,
                   intent=refund.intent, base_url=current_app.config["PUBLIC_BASE_URL"])


def on_notice(intent, result: GatewayResult) -> None:
    """A gateway refund event (registered with the payments service): complete the refund it names."""
    refund_id, refund_ref = result.details.get("refund_id"), result.details.get("ebiz_refund")
    status = result.details.get("refund_status")
    if not refund_id or status not in (SUCCEEDED, FAILED, PENDING, "canceled"):
        return
    q = select(RefundRequest.reference).where(RefundRequest.intent_id == intent.id)
    q = q.where(RefundRequest.gateway_refund_id == refund_id) if not refund_ref else \
        q.where((RefundRequest.reference == refund_ref) | (RefundRequest.gateway_refund_id == refund_id))
    reference = db.session.scalar(q)
    if reference is None:
        return
    refund = _locked(reference)
    if not refund.gateway_refund_id:
        refund.gateway_refund_id = str(refund_id)[:64]
    elif refund.gateway_refund_id != refund_id:
        return
    apply_gateway_status(refund, FAILED if status == "canceled" else status, source="callback")


def unsent(limit: int = 200) -> list[str]:
    """References of approved refunds the gateway has not yet answered (it could not be reached):
    `flask payments reconcile` sends them again, with the same idempotency key."""
    return list(db.session.scalars(select(RefundRequest.reference).where(
        RefundRequest.status == RefundStatus.OPEN, RefundRequest.gateway_status == ISSUING)
        .order_by(RefundRequest.id).limit(limit)))


def in_flight():
    """Refunds sent to the gateway and not yet confirmed (for the staff pages)."""
    return select(RefundRequest).where(RefundRequest.status == RefundStatus.OPEN,
                                       RefundRequest.gateway_status.in_((ISSUING, PENDING)))


def register() -> None:
    """Called once by create_app: gateway notices about refunds (Stripe's refund events) reach `on_notice`."""
    service.register_notice_handler(on_notice)
