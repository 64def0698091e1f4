"""The Stripe adapter (`PAYMENT_GATEWAY=stripe`): FPX and cards in MYR through Stripe Checkout.

Design: Checkout Sessions (a Stripe-hosted payment page), as Stripe recommends for a
server-rendered checkout. eBiz serves its pages with CSP `script-src 'self'`, so it cannot
load Stripe.js to collect a card itself; with Checkout eBiz never sees a card number, and
one flow serves both methods (`payment_method_types=["fpx"]` or `["card"]`, currency myr).
FPX's bank is chosen on Stripe's page (Checkout has no parameter to preselect the bank the
customer picked in eBiz; eBiz's choice stays on the intent for its own records).

- start: `POST /v1/checkout/sessions` for the intent's amount in sen, with the eBiz
  reference as `client_reference_id` and as metadata `ebiz_ref` on both the session and its
  PaymentIntent (`payment_intent_data.metadata`), and the Stripe `Idempotency-Key`
  `ebiz-start-<reference>`: a retried or continued start gets the same session back. The
  session id (cs_...) is stored at once as the intent's `gateway_txn_id`, because with
  Checkout the PaymentIntent (pi_...) exists only once the customer pays; it is stored as
  `gateway_payment_id` when an event or requery names it.
- webhooks (`/payments/callback/stripe`): the `Stripe-Signature` is verified by
  `stripe.Webhook.construct_event` with `STRIPE_WEBHOOK_TOLERANCE` seconds; the event is
  read into a `GatewayResult`: checkout.session.completed (paid or, for an asynchronous
  method, pending), .async_payment_succeeded / .async_payment_failed / .expired, and
  payment_intent.succeeded / .processing / .canceled move the intent; payment_intent.payment_failed
  is one failed attempt (Checkout lets the customer try again on the same page), so it is
  noted with its decline code and the intent waits for the customer until the session
  expires (failed) or a later attempt succeeds;
  charge.refunded and charge.dispute.* are notices logged on the paid intent (a dispute
  puts it on the staff review queue). Stripe's event id is stored under a unique
  constraint (payment_event.gateway_event_id), so every event is applied once; the amount
  and currency are checked against the intent as for the sandbox. Other event types are
  answered 200 and ignored (Stripe would otherwise retry them for days).
- requery: the PaymentIntent when its id is known, else the Checkout Session (expanding
  its PaymentIntent): the return page and `flask payments reconcile` use it as they use
  the sandbox's.
- keys: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE (a test server such as
  localstripe; empty for Stripe). Production refuses a test-mode key (sk_test_/rk_test_)
  unless EBIZ_STAGING=1 declares a staging server (`check_config`, called by create_app).
"""

from __future__ import annotations

import calendar
from datetime import timedelta

import stripe
from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from .gateway import (
    GATEWAYS,
    Gateway,
    GatewayResult,
    GatewayStatus,
    GatewayUnavailable,
    IgnoredMessage,
    SignatureInvalid,
)
from .models import PaymentIntent

G = GatewayStatus
SIGNATURE_HEADER = "Stripe-Signature"
CHECKOUT_MIN_SECONDS = 30 * 60  # Stripe: a Checkout Session expires 30 minutes to 24 hours after creation
CHECKOUT_MAX_SECONDS = 24 * 3600

# What Stripe's statuses mean for eBiz (PaymentIntent.status, Checkout Session payment_status).
PAYMENT_INTENT_STATUS = {
    "succeeded": G.PAID,
    "processing": G.PENDING,
    "requires_payment_method": G.NOT_FOUND,  # created, nothing paid yet (or a try failed: may try again)
    "requires_confirmation": G.NOT_FOUND,
    "requires_action": G.NOT_FOUND,  # the customer is at the bank's or 3-D Secure page
    "requires_capture": G.PENDING,
    "canceled": G.FAILED,
}
EVENT_STATUS = {
    "payment_intent.succeeded": G.PAID,
    "payment_intent.processing": G.PENDING,
    "payment_intent.payment_failed": G.FAILED,
    "payment_intent.canceled": G.FAILED,
    "checkout.session.async_payment_succeeded": G.PAID,
    "checkout.session.async_payment_failed": G.FAILED,
    "checkout.session.expired": G.FAILED,
}
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
NOTICE_EVENTS = ("charge.refunded", "charge.dispute.created", "charge.dispute.updated",
                 "charge.dispute.closed", "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")


def _test_key(key: str) -> bool:
    return key.startswith(("sk_test_", "rk_test_"))


def check_config(config) -> None:
    """Refuse to start a misconfigured Stripe gateway (called by create_app when PAYMENT_GATEWAY=stripe)."""
    key = config.get("STRIPE_SECRET_KEY") or ""
    if not key or not config.get("STRIPE_WEBHOOK_SECRET"):
        raise RuntimeError("PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.")
    if _test_key(key) and not config.get("ALLOW_TEST_GATEWAY_KEY", True):
        raise RuntimeError("STRIPE_SECRET_KEY is a test-mode key: it takes no real money, and the production "
                           "configuration refuses it. Use the live key, or set EBIZ_STAGING=1 on a staging server.")


def _client() -> stripe.StripeClient:
    cfg = current_app.config
    base = (cfg.get("STRIPE_API_BASE") or "").rstrip("/")
    return stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"], base_addresses={"api": base} if base else None, max_network_retries=1,
        http_client=stripe.RequestsClient(timeout=cfg.get("PAYMENT_GATEWAY_TIMEOUT", 10)))


def _expires_at(intent) -> int:
    """When the Checkout Session ends: the intent's own expiry, within Stripe's 30 min-24 h window,
    counted from the intent's creation so that a repeated start sends the very same parameters."""
    created = intent.created_at
    end = min(max(intent.expires_at, created + timedelta(seconds=CHECKOUT_MIN_SECONDS + 120)),
              created + timedelta(seconds=CHECKOUT_MAX_SECONDS - 120))
    return calendar.timegm(end.utctimetuple())  # eBiz stores naive UTC


def _amount(obj) -> int | None:
    for name in ("amount_received", "amount_total", "amount"):
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _currency(obj) -> str | None:
    cur = obj.get("currency")
    return cur.upper() if isinstance(cur, str) else None


def _meta_ref(obj) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("ebiz_ref") or obj.get("client_reference_id") or "")


def _pi_id(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return None


def _failure_code(pi) -> str:
    err = pi.get("last_payment_error") or {}
    return str(err.get("decline_code") or err.get("code") or "payment_failed")[:40]


def result_from_payment_intent(pi, *, status: str | None = None, raw: str | None = None,
                               event_id: str | None = None, merchant_ref: str = "") -> GatewayResult:
    status = status or PAYMENT_INTENT_STATUS.get(pi.get("status"), G.PENDING)
    if raw is None:
        raw = _failure_code(pi) if status == G.FAILED and pi.get("last_payment_error") else str(pi.get("status"))
    return GatewayResult(
        merchant_ref=merchant_ref or _meta_ref(pi), status=status, raw_status=raw[:40], txn_id=None,
        amount_sen=_amount(pi) if status != G.NOT_FOUND else pi.get("amount"), currency=_currency(pi),
        event_id=event_id,
        details={"payment_id": pi.get("id"), "method": (pi.get("payment_method_types") or [None])[0]})


def result_from_session(session, *, status: str | None = None, raw: str | None = None,
                        event_id: str | None = None) -> GatewayResult:
    if status is None:
        if session.get("payment_status") == "paid":
            status = G.PAID
        elif session.get("status") == "expired":
            status = G.FAILED
        elif session.get("status") == "complete":
            status = G.PENDING  # an asynchronous method: paid at the bank, not yet confirmed
        else:
            status = G.NOT_FOUND  # open: the customer has not paid yet
    pi = session.get("payment_intent")
    details = {"payment_id": _pi_id(pi)} if _pi_id(pi) else {}
    return GatewayResult(
        merchant_ref=_meta_ref(session), status=status,
        raw_status=(raw or f"session_{session.get('status')}_{session.get('payment_status')}")[:40],
        txn_id=session.get("id"), amount_sen=_amount(session), currency=_currency(session), event_id=event_id,
        details=details)


class StripeGateway(Gateway):
    name = "stripe"
    unique_events = True  # Stripe's event ids are unique: each is applied once (payment_event.gateway_event_id)

    def start(self, intent, *, callback_url: str, return_url: str) -> str:
        client = _client()
        try:
            if intent.gateway_txn_id:  # started before: the same page while it is still open
                session = client.v1.checkout.sessions.retrieve(intent.gateway_txn_id).to_dict()
                if session.get("status") == "open" and session.get("url"):
                    return session["url"]
                if session.get("status") == "complete":  # paid (or paying) already: eBiz's own status page
                    return return_url
            meta = {"ebiz_ref": intent.reference}
            session = client.v1.checkout.sessions.create(params={
                "mode": "payment",
                "payment_method_types": [intent.method],  # "fpx" or "card"
                "line_items": [{"quantity": 1, "price_data": {
                    "currency": "myr", "unit_amount": intent.amount_sen,
                    "product_data": {"name": f"eBiz {intent.reference}"}}}],
                "client_reference_id": intent.reference,
                "metadata": meta,
                "payment_intent_data": {"metadata": meta},
                "success_url": return_url, "cancel_url": return_url,
                "expires_at": _expires_at(intent),
            }, options={"idempotency_key": f"ebiz-start-{intent.reference}"}).to_dict()
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}"[:300]) from exc
        if not session.get("id") or not session.get("url"):
            raise GatewayUnavailable("stripe: a Checkout Session without an id or url")
        if not intent.gateway_txn_id:
            db.session.execute(update(PaymentIntent).where(PaymentIntent.id == intent.id,
                                                           PaymentIntent.gateway_txn_id.is_(None))
                               .values(gateway_txn_id=session["id"]))
            intent.gateway_txn_id = session["id"]
        return session["url"]

    def verify_callback(self, body: bytes, headers) -> GatewayResult:
        cfg = current_app.config
        header = headers.get(SIGNATURE_HEADER)
        if not header or not header.isascii():
            raise SignatureInvalid()
        try:
            event = stripe.Webhook.construct_event(body, header, cfg["STRIPE_WEBHOOK_SECRET"],
                                                   tolerance=cfg.get("STRIPE_WEBHOOK_TOLERANCE", 300)).to_dict()
        except stripe.SignatureVerificationError as exc:
            raise SignatureInvalid() from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # not JSON, not UTF-8, not an event
            raise ValueError("not a Stripe event") from exc
        kind, event_id = event.get("type"), event.get("id")
        obj = (event.get("data") or {}).get("object")
        if not isinstance(kind, str) or not isinstance(event_id, str) or not obj:
            raise ValueError("not a Stripe event")
        if kind == "checkout.session.completed":
            return result_from_session(obj, event_id=event_id)
        if kind.startswith("checkout.session.") and kind in EVENT_STATUS:
            return result_from_session(obj, status=EVENT_STATUS[kind], raw=kind.rsplit(".", 1)[1],
                                       event_id=event_id)
        if kind == "payment_intent.payment_failed" and obj.get("status") != "canceled":
            # One attempt failed (a declined card, a cancelled bank page) and Checkout lets the customer try
            # again on the same page: still waiting for them; the session's expiry is the final "failed".
            return result_from_payment_intent(obj, status=G.NOT_FOUND, raw=_failure_code(obj), event_id=event_id)
        if kind in EVENT_STATUS:
            status = EVENT_STATUS[kind]
            raw = _failure_code(obj) if status == G.FAILED else kind.rsplit(".", 1)[1]
            return result_from_payment_intent(obj, status=status, raw=raw, event_id=event_id)
        if kind in REFUND_EVENTS:  # a refund's progress (payments.refunds completes the queue entry)
            pid = _pi_id(obj.get("payment_intent"))
            meta = obj.get("metadata") or {}
            return GatewayResult(merchant_ref=str(meta.get("ebiz_ref") or "") or self._ref_by_payment_id(pid),
                                 status=G.NOTICE, raw_status=kind[:40], event_id=event_id,
                                 amount_sen=obj.get("amount"), currency=_currency(obj),
                                 details={"payment_id": pid, "notice": kind, "object_id": obj.get("id"),
                                          "refund_id": obj.get("id"), "refund_status": obj.get("status"),
                                          "ebiz_refund": meta.get("ebiz_refund")})
        if kind in NOTICE_EVENTS:
            pid = _pi_id(obj.get("payment_intent"))
            ref = _meta_ref(obj) or self._ref_by_payment_id(pid)
            return GatewayResult(merchant_ref=ref, status=G.NOTICE, raw_status=kind[:40], event_id=event_id,
                                 amount_sen=obj.get("amount_refunded") if kind.startswith("charge.refund")
                                 else obj.get("amount"), currency=_currency(obj),
                                 details={"payment_id": pid, "notice": kind, "object_id": obj.get("id"),
                                          "dispute_status": obj.get("status") if ".dispute." in kind else None})
        raise IgnoredMessage(kind)

    @staticmethod
    def _ref_by_payment_id(pid: str | None) -> str:
        if not pid:
            return ""
        return db.session.scalar(select(PaymentIntent.reference)
                                 .where(PaymentIntent.gateway_payment_id == pid)) or ""

    def refund(self, intent, amount_sen: int, *, key: str, refund_ref: str) -> tuple[str | None, str]:
        """A Refund of the intent's PaymentIntent (found through its Checkout Session if not yet known)."""
        client = _client()
        try:
            pid = intent.gateway_payment_id
            if not pid and intent.gateway_txn_id:
                pid = _pi_id(client.v1.checkout.sessions.retrieve(intent.gateway_txn_id).to_dict()
                             .get("payment_intent"))
            if not pid:
                return None, "failed"
            refund = client.v1.refunds.create(params={
                "payment_intent": pid, "amount": amount_sen,
                "metadata": {"ebiz_ref": intent.reference, "ebiz_refund": refund_ref},
            }, options={"idempotency_key": key}).to_dict()
        except stripe.InvalidRequestError as exc:  # e.g. more than is left to refund: Stripe refuses it
            current_app.logger.warning("stripe refused refund %s: %s", refund_ref, exc)
            return None, "failed"
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}"[:300]) from exc
        status = refund.get("status")
        if status == "succeeded":
            return refund.get("id"), "succeeded"
        if status in ("failed", "canceled"):
            return refund.get("id"), "failed"
        return refund.get("id"), "pending"  # pending, requires_action: the refund's event completes it

    def collected(self, start, end) -> int | None:
        """The day's charges in MYR from Stripe's balance transactions (gross, before Stripe's fees)."""
        try:
            txns = _client().v1.balance_transactions.list(params={
                "created": {"gte": calendar.timegm(start.utctimetuple()), "lt": calendar.timegm(end.utctimetuple())},
                "limit": 100})
            return sum(t.amount for t in txns.auto_paging_iter()
                       if t.type in ("charge", "payment") and t.currency == "myr")
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}"[:300]) from exc

    def requery(self, intent) -> GatewayResult:
        client = _client()
        try:
            if intent.gateway_payment_id:
                pi = client.v1.payment_intents.retrieve(intent.gateway_payment_id).to_dict()
                return result_from_payment_intent(pi, merchant_ref=intent.reference)
            if not intent.gateway_txn_id:  # never reached Stripe: nothing to ask about
                return GatewayResult(merchant_ref=intent.reference, status=G.NOT_FOUND, raw_status="not_started")
            session = client.v1.checkout.sessions.retrieve(intent.gateway_txn_id,
                                                           params={"expand": ["payment_intent"]}).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return GatewayResult(merchant_ref=intent.reference, status=G.NOT_FOUND, raw_status="not_found")
            raise GatewayUnavailable(f"stripe: {exc}"[:300]) from exc
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}"[:300]) from exc
        result = result_from_session(session)
        pi = session.get("payment_intent")
        if isinstance(pi, dict) and pi.get("status"):  # the PaymentIntent's own status is the fuller answer
            from_pi = result_from_payment_intent(pi, merchant_ref=intent.reference)
            if not (from_pi.status == G.NOT_FOUND and result.status != G.NOT_FOUND):
                from_pi.txn_id = result.txn_id
                result = from_pi
        result.merchant_ref = intent.reference
        return result



GATEWAYS["stripe"] = StripeGateway
