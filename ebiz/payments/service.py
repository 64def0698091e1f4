"""Payments: intents, the state machine, callbacks, requery, reconciliation, receipts, refunds.

`payments` does not know what is being paid for. A payable kind registers callbacks:

    register_payable("order", settle=..., describe=..., return_url=..., describe_many=...)

and payments calls `settle(intent)` exactly once, in the transaction that marks the intent
succeeded (the handler writes its ledger postings through `ebiz.wallet.service.collect` and
its own state; if it can no longer deliver, it refunds to the wallet or calls
`queue_refund` itself and returns normally: money received is never dropped).
`describe(intent)` is the text for one intent; the optional `describe_many(intents) ->
{intent id: text}` describes a page of them with a fixed number of queries (`describe_all`).
The optional `unpayable(intent)` says why the customer may no longer be sent to the gateway
for it (say the order was cancelled), or returns None; the optional `kept(intent)` says whether
a succeeded payment's money was kept (False: it was given back, see `returned`).

The contract other domains use:
- `create_intent(user, *, kind, payable_ref, amount_sen, method, bank_code=None,
  idempotency_key) -> PaymentIntent`: method "fpx" (with a bank code), "card" or "wallet";
  the same (user, idempotency key) returns the same intent (a different amount or payable
  under the same key is a Conflict).
- `start_online(intent) -> str`: the gateway URL to send the customer's browser to.
- `pay_with_wallet(intent) -> PaymentIntent`: marks a "wallet" intent succeeded and calls
  `settle` in the current transaction; InsufficientFunds propagates and nothing is written
  (the work runs in a savepoint).
- `queue_refund(intent, amount_sen, reason_code, detail="", *, key=None) -> RefundRequest`:
  a staff refund-queue entry (idempotent per key; by default one per intent);
  `register_refund_handler(fn)`: `fn(refund)` runs when staff mark it paid back.
- Several payments of one payable: `in_flight(kind, ref)` (pending online ones); `ask_in_flight`
  (network) then `settle_answers` (writes) before offering another; `abandon(user, reference)`
  (the gateway never saw it); `close_unstarted` (the payable was paid by another);
  `returned_payments(kind, ref, kept=...)` (succeeded but not kept, with their refund entries).
- Endpoints: `payments.status` / `payments.receipt` (by intent reference), `payments.history`,
  `payments.abandon`.

Invariants:
- Every change of an intent's status goes through `_apply`, under a row lock on the intent
  (SELECT ... FOR UPDATE on PostgreSQL, an immediate write transaction on SQLite), and
  follows `TRANSITIONS`; duplicates and stale events are explicit outcomes, logged as
  PaymentEvents. A paid intent never goes back; money arriving for a failed or expired
  intent still succeeds it (and flags it for staff).
- A callback is believed only after its HMAC signature is verified, and only if its amount
  and currency equal the intent's; anything else is rejected and audited.
- Network calls to the gateway happen before any lock is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..audit.service import record
from ..clock import utcnow
from ..db import backoff_seconds, begin_write, insert_new, lock_one
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..refs import new_reference
from ..sequences import next_number
from . import stripe_gateway  # noqa: F401 (registers PAYMENT_GATEWAY=stripe)
from .banks import BANKS_BY_CODE
from .gateway import GatewayResult, GatewayStatus, GatewayUnavailable, IgnoredMessage, SignatureInvalid, get_gateway
from .models import (
    REFUND_REASON_LABELS,
    IntentStatus,
    Method,
    PaymentEvent,
    PaymentIntent,
    PendingReason,
    RefundRequest,
    RefundStatus,
    ReviewNote,
)
from .receipts import payer_snapshot

S, G = IntentStatus, GatewayStatus
TXN_ID_MAX = PaymentIntent.__table__.c.gateway_txn_id.type.length  # what a gateway's transaction id may be


@dataclass(frozen=True)
class Payable:
    settle: object
    describe: object
    return_url: object
    describe_many: object = None
    unpayable: object = None
    kept: object = None


_PAYABLES: dict[str, Payable] = {}
_REFUND_HANDLERS: list = []
_NOTICE_HANDLERS: list = []


def register_payable(kind: str, *, settle, describe, return_url, describe_many=None, unpayable=None,
                     kept=None) -> None:
    """Register a payable kind ("wallet_topup", "order"): see the module docstring."""
    _PAYABLES[kind] = Payable(settle=settle, describe=describe, return_url=return_url, describe_many=describe_many,
                              unpayable=unpayable, kept=kept)


def register_refund_handler(handler) -> None:
    """`handler(refund)` runs in the transaction in which staff mark a queued refund paid back
    (the wallet domain books the money leaving). Registering twice is harmless."""
    if handler not in _REFUND_HANDLERS:
        _REFUND_HANDLERS.append(handler)


def register_notice_handler(handler) -> None:
    """`handler(intent, result)` runs after a gateway notice about a paid intent is logged (a refund's
    progress: payments.refunds)."""
    if handler not in _NOTICE_HANDLERS:
        _NOTICE_HANDLERS.append(handler)


def payable(kind: str) -> Payable:
    try:
        return _PAYABLES[kind]
    except KeyError:
        raise RuntimeError(f"payable kind {kind!r} is not registered") from None


def describe(intent: PaymentIntent) -> str:
    p = _PAYABLES.get(intent.kind)
    return str(p.describe(intent)) if p else intent.kind


def describe_all(intents) -> dict[int, str]:
    """`describe` for a list of intents, by intent id. A kind that registered `describe_many`
    describes all its intents in one call (a page costs the same queries for 2 rows or 25)."""
    by_kind: dict[str, list[PaymentIntent]] = {}
    for intent in intents:
        by_kind.setdefault(intent.kind, []).append(intent)
    out: dict[int, str] = {}
    for kind, group in by_kind.items():
        p = _PAYABLES.get(kind)
        many = p.describe_many(group) if p is not None and p.describe_many is not None else {}
        for intent in group:
            out[intent.id] = str(many[intent.id]) if intent.id in many else describe(intent)
    return out


def returned(intent: PaymentIntent) -> bool:
    """Whether the payable gave this succeeded payment's money back (paid twice, or paid for what had
    closed): its optional `kept(intent)` says False."""
    p = _PAYABLES.get(intent.kind)
    return intent.status == S.SUCCEEDED and p is not None and p.kept is not None and not p.kept(intent)


def return_url(intent: PaymentIntent) -> str | None:
    p = _PAYABLES.get(intent.kind)
    return p.return_url(intent) if p else None


# -- the state machine ---------------------------------------------------------------
# (current status, what the gateway says) -> (new status, outcome). Nothing else moves.
TRANSITIONS: dict[tuple[str, str], tuple[str, str]] = {
    (S.PENDING, G.PAID): (S.SUCCEEDED, "applied"),
    (S.PENDING, G.FAILED): (S.FAILED, "applied"),
    (S.PENDING, G.PENDING): (S.PENDING, "noted"),
    (S.PENDING, G.PENDING_AUTHORISATION): (S.PENDING, "noted"),
    (S.PENDING, G.NOT_FOUND): (S.PENDING, "noted"),
    (S.SUCCEEDED, G.PAID): (S.SUCCEEDED, "duplicate"),
    (S.SUCCEEDED, G.FAILED): (S.SUCCEEDED, "ignored"),
    (S.SUCCEEDED, G.PENDING): (S.SUCCEEDED, "ignored"),
    (S.SUCCEEDED, G.PENDING_AUTHORISATION): (S.SUCCEEDED, "ignored"),
    (S.SUCCEEDED, G.NOT_FOUND): (S.SUCCEEDED, "ignored"),
    # Money that arrives after we gave up is never dropped: it still succeeds (flagged).
    (S.FAILED, G.PAID): (S.SUCCEEDED, "applied"),
    (S.FAILED, G.FAILED): (S.FAILED, "duplicate"),
    (S.FAILED, G.PENDING): (S.FAILED, "ignored"),
    (S.FAILED, G.PENDING_AUTHORISATION): (S.FAILED, "ignored"),
    (S.FAILED, G.NOT_FOUND): (S.FAILED, "ignored"),
    (S.EXPIRED, G.PAID): (S.SUCCEEDED, "applied"),
    (S.EXPIRED, G.FAILED): (S.EXPIRED, "ignored"),
    (S.EXPIRED, G.PENDING): (S.EXPIRED, "ignored"),
    (S.EXPIRED, G.PENDING_AUTHORISATION): (S.EXPIRED, "ignored"),
    (S.EXPIRED, G.NOT_FOUND): (S.EXPIRED, "ignored"),
}

PENDING_REASONS = {
    G.PENDING: PendingReason.AWAITING_BANK,
    G.PENDING_AUTHORISATION: PendingReason.AWAITING_APPROVER,
    G.NOT_FOUND: PendingReason.AWAITING_CUSTOMER,
}

PENDING_TEXT = {
    PendingReason.AWAITING_CUSTOMER: (
        _l("We have no word from your bank or card issuer about this payment yet."),
        # Not "nothing has been charged": the bank may have taken the money and its answer be lost.
        _l("If you closed the bank's page before paying, continue the payment, or choose to pay another way. "
           "If your bank took the money, we credit it as soon as the bank confirms."),
    ),
    PendingReason.AWAITING_BANK: (
        _l("Your bank has not confirmed the payment yet."),
        _l("Banks usually confirm within minutes. Press \"Check again\" shortly; do not pay twice."),
    ),
    PendingReason.AWAITING_ANSWER: (
        _l("We have not yet received the bank's answer."),
        _l("If money has left your account, it will be credited: we keep asking the bank. "
           "Press \"Check again\" in a few minutes."),
    ),
    PendingReason.AWAITING_APPROVER: (
        _l("Your company's bank account needs a second approver to authorise this payment."),
        _l("Ask your company's authoriser to approve it in corporate online banking. This may take hours; "
           "we confirm automatically once they do."),
    ),
}


# Why an online payment failed, by the gateway's code (FPX debit and card authorisation codes).
FAILURE_TEXT = {
    "51": _l("Your bank declined it: there were not enough funds in the account."),
    "1C": _l("The payment was cancelled on the bank's page."),
    "05": _l("Your card issuer declined it. Try another card, or FPX online banking."),
}


def failure_text(intent: PaymentIntent):
    """What to tell the customer about a failed payment."""
    return FAILURE_TEXT.get(intent.gateway_status or "", _l("The bank or card issuer did not approve it."))


def pending_text(intent: PaymentIntent):
    return PENDING_TEXT.get(intent.pending_reason or PendingReason.AWAITING_CUSTOMER)


# -- creating and starting intents -------------------------------------------------------
def create_intent(user, *, kind: str, payable_ref: str, amount_sen: int, method: str,
                  bank_code: str | None = None, idempotency_key: str) -> PaymentIntent:
    """Create (or find again, by idempotency key) a pending payment intent. See module docstring."""
    begin_write()
    payable(kind)
    if not isinstance(amount_sen, int) or isinstance(amount_sen, bool) or amount_sen <= 0:
        raise ValidationError(_l("The amount must be more than RM 0.00."), field="amount")
    if method not in Method.ALL:
        raise ValidationError(_l("Choose a payment method."), field="method")
    if method == Method.FPX and bank_code not in BANKS_BY_CODE:
        raise ValidationError(_l("Choose your bank."), field="bank_code")
    if method != Method.FPX:
        bank_code = None
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise ValidationError(_l("This form has expired. Please try again."))

    def same(existing: PaymentIntent) -> PaymentIntent:
        if (existing.kind, existing.payable_ref, existing.amount_sen, existing.method, existing.bank_code) != \
                (kind, payable_ref, amount_sen, method, bank_code):
            raise Conflict(_l("This payment was already started with different details."))
        return existing

    now = utcnow()
    intent = insert_new(PaymentIntent, dict(
        reference=new_reference("PAY"), user_id=user.id, kind=kind, payable_ref=payable_ref,
        amount_sen=amount_sen, currency="MYR", method=method, bank_code=bank_code, status=S.PENDING,
        pending_reason=PendingReason.AWAITING_CUSTOMER, idempotency_key=key,
        gateway=current_app.config["PAYMENT_GATEWAY"] if method in Method.ONLINE else None,
        needs_review=False, requery_count=0, created_at=now, updated_at=now,
        expires_at=now + timedelta(seconds=current_app.config["PAYMENT_INTENT_TTL_SECONDS"]),
    ), unique=["user_id", "idempotency_key"])
    if intent is None:  # this key was used before (a retried or double-submitted request)
        return same(_by_key(user.id, key))
    if not db.session().in_nested_transaction():  # (a savepoint's rollback could take the row away again)
        intent._inserted_in = db.session().get_transaction()  # nobody else can see or lock it before we commit
    return intent


def _by_key(user_id: int, key: str) -> PaymentIntent | None:
    return db.session.scalar(select(PaymentIntent).where(PaymentIntent.user_id == user_id,
                                                         PaymentIntent.idempotency_key == key))


def _external(endpoint: str, **values) -> str:
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)


def unpayable(intent: PaymentIntent):
    """Why the customer may not (or no longer) go to the gateway to pay this intent; None when they may."""
    if not intent.is_online:
        return _l("This payment is not paid online.")
    if intent.status != S.PENDING:
        return _l("This payment is no longer waiting to be paid.")
    if intent.expires_at <= utcnow():
        return _l("The time to make this payment has passed: please start a new payment. If your bank took money "
                  "for this one after all, we credit it as soon as the bank confirms.")
    check = payable(intent.kind).unpayable
    return check(intent) if check is not None else None


def start_online(intent: PaymentIntent) -> str:
    """The URL of the gateway's bank/card page for this (pending, online) intent; Conflict when
    it can no longer be paid (see `unpayable`): what is paid must still be deliverable."""
    why = unpayable(intent)
    if why is not None:
        raise Conflict(why)
    gateway = get_gateway(intent.gateway)
    try:
        return gateway.start(intent, callback_url=_external("payments.callback", gateway=gateway.name),
                             return_url=_external("payments.status", reference=intent.reference))
    except GatewayUnavailable:  # (Stripe: its API did not answer) nothing was charged; the customer may retry
        raise Conflict(_l("The payment gateway could not be reached. Nothing was charged: please try again in a "
                          "few minutes.")) from None


def get_for_user(user, reference: str, *, as_staff: bool = False) -> PaymentIntent:
    """The intent with this reference, if it belongs to `user`; staff see any, but only when the
    caller vouches they passed the staff sign-in (`as_staff`: two-factor verified)."""
    intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))
    if intent is None or (intent.user_id != user.id and not (as_staff and user.is_staff)):
        raise NotFound()
    return intent


def _lock(intent: PaymentIntent) -> PaymentIntent:
    begin_write()
    if getattr(intent, "_inserted_in", None) is db.session().get_transaction():
        return intent  # inserted by this very transaction: invisible to others until commit, nothing to lock
    locked = lock_one(select(PaymentIntent).where(PaymentIntent.id == intent.id), of=PaymentIntent)
    if locked is None:
        raise NotFound()
    return locked


def _event(intent, source: str, gateway_status: str | None, outcome: str, *, unique_id: str | None = None,
           **details) -> None:
    db.session.add(PaymentEvent(intent_id=getattr(intent, "id", None), source=source,
                                gateway_status=gateway_status, outcome=outcome, details=details,
                                gateway_event_id=unique_id))


def _unique_event_id(intent, result: GatewayResult, source: str) -> str | None:
    """"<gateway>:<event id>" when the gateway's event ids are unique (each applied once), else None."""
    if source != "callback" or not result.event_id or not intent.gateway:
        return None
    if not get_gateway(intent.gateway).unique_events:
        return None
    return f"{intent.gateway}:{result.event_id}"[:120]


def _apply_notice(intent, result: GatewayResult, source: str, unique_id: str | None, ip: str | None) -> str:
    """News about a payment that does not move it (a refund, a dispute): logged; a dispute goes to staff."""
    notice = str(result.details.get("notice") or result.raw_status)
    if intent.status != S.SUCCEEDED or result.currency not in (None, intent.currency):
        return _reject(intent, source, "notice for an unpaid payment or in another currency", ip,
                       gateway_status=result.raw_status)
    _event(intent, source, result.raw_status, "noted", unique_id=unique_id, notice=notice,
           amount_sen=result.amount_sen, object_id=result.details.get("object_id"),
           dispute_status=result.details.get("dispute_status"))
    if ".dispute." in notice:
        intent.needs_review, intent.review_note = True, ReviewNote.DISPUTED
        record("payment.disputed", target=intent, ip=ip, reference=intent.reference, notice=notice,
               amount_sen=result.amount_sen)
    for handler in _NOTICE_HANDLERS:
        handler(intent, result)
    return "noted"


# -- paying from the wallet -------------------------------------------------------------
def pay_with_wallet(intent: PaymentIntent) -> PaymentIntent:
    """Succeed a "wallet" intent now: settle (which debits the wallet) in this transaction."""
    if intent.method != Method.WALLET:
        raise ValidationError(_l("This payment is not paid from the wallet."))
    with db.session.begin_nested():
        intent = _lock(intent)
        if intent.status == S.SUCCEEDED:
            _event(intent, "wallet", None, "duplicate")
            return intent
        if intent.status != S.PENDING:
            raise Conflict(_l("This payment is no longer waiting to be paid."))
        _event(intent, "wallet", None, "applied")  # written with the rest, before the hot rows
        _succeed(intent, source="wallet")
    return intent


# -- paying at a counter ------------------------------------------------------------------
def pay_at_counter(intent: PaymentIntent, *, counter_code: str, counter_name: str,
                   approval_code: str | None = None) -> PaymentIntent:
    """Succeed an intent paid at a counter now: cash, the counter's card terminal (its approval
    code), or the wallet there. The receipt names the counter; the settle handler's ledger
    posting uses the counter's clearing account (wallet.service.collect)."""
    if intent.method not in (*Method.COUNTER, Method.WALLET):
        raise ValidationError(_l("This payment is not paid at a counter."))
    if intent.method == Method.TERMINAL and not approval_code:
        raise ValidationError(_l("Enter the card terminal's approval code."), field="approval_code")
    with db.session.begin_nested():
        intent = _lock(intent)
        if intent.status == S.SUCCEEDED:
            _event(intent, "counter", None, "duplicate", counter=counter_code)
            return intent
        if intent.status != S.PENDING:
            raise Conflict(_l("This payment is no longer waiting to be paid."))
        intent.counter_code, intent.counter_name = counter_code, counter_name
        intent.approval_code = approval_code if intent.method == Method.TERMINAL else None
        _event(intent, "counter", None, "applied", counter=counter_code)
        _succeed(intent, source="counter")
    return intent


# -- applying gateway news ----------------------------------------------------------------
_DEFER_KEY = "payments.run_last"
_SLOT = "[[receipt-no]]"  # where the receipt number goes in the receipt mail rendered before it is known


def deferred_hooks() -> list | None:
    """While a payment is being settled, the list where ledger code puts its hot-row updates
    (wallet balances) to run last, just before the transaction ends; None otherwise."""
    return db.session.info.get(_DEFER_KEY)


def _succeed(intent: PaymentIntent, *, source: str) -> None:
    """Mark paid and settle, in this transaction, keeping the contended rows' locks short.

    Two rows are shared by concurrent payments: the payer's wallet balance (every payment
    from that wallet) and the receipt-number sequence (every payment). Both stay locked until
    the commit, so the order of work is:

    1. everything else, written by one flush: the payable's own rows (the order, its lines),
       the ledger posting and its entries, audit events, the payment event; the receipt mail
       is rendered too, with a slot for its number, and mail the handler queues is held;
    2. the wallet's conditional debit (`UPDATE ... WHERE balance + x >= 0`): its row lock;
       InsufficientFunds here undoes all of it (the caller's savepoint), before any number
       is taken;
    3. the receipt number, LAST (`UPDATE ... RETURNING`): its lock is held only for the
       intent's own UPDATE (status, times and number in one statement) and one INSERT of
       the outbox rows (the receipt and the held mail), then the commit.

    Receipt numbers stay gapless because the number is taken in the same transaction that
    marks the intent succeeded: if anything fails, the number rolls back with it.
    """
    from ..notifications.service import hold_mail, prepare_mail, queue, release_held_mail

    now = utcnow()
    late = intent.status in (S.FAILED, S.EXPIRED) or (intent.is_online and now > intent.expires_at)
    previous = intent.status
    db.session.info[_DEFER_KEY] = hooks = []
    holding = hold_mail()  # the settle handler's mail and the receipt: one INSERT, at the end
    done = False
    try:
        payable(intent.kind).settle(intent)
        description = describe(intent)
        record("payment.succeeded", target=intent, reference=intent.reference, amount_sen=intent.amount_sen,
               method=intent.method, source=source, late=late)
        user = intent.user
        mail = None
        if user is not None and user.email:
            mail = prepare_mail(user.email, _l("Payment receipt %(no)s", no=_SLOT), "payments_receipt",
                                intent=intent, receipt_no=_SLOT, paid_at=now, description=description,
                                base_url=current_app.config["PUBLIC_BASE_URL"])
        db.session.flush()  # 1. everything else is written before the contended locks are taken
        for hook in hooks:  # 2. e.g. the conditional wallet debit: InsufficientFunds undoes all of it
            hook()
        receipt_no = next_number("RCP")  # 3. last
        done = True
    finally:
        db.session.info.pop(_DEFER_KEY, None)
        if holding:
            release_held_mail(discard=not done)
    intent.status, intent.succeeded_at, intent.pending_reason = S.SUCCEEDED, now, None
    intent.settled_at, intent.receipt_no = utcnow(), receipt_no
    intent.payer = payer_snapshot(user)
    if late:
        intent.needs_review = True
        intent.review_note = {S.FAILED: ReviewNote.PAID_AFTER_FAILED,
                              S.EXPIRED: ReviewNote.PAID_AFTER_EXPIRED}.get(previous, ReviewNote.PAID_AFTER_EXPIRY)
    if mail is not None:
        mail.subject = mail.subject.replace(_SLOT, receipt_no)
        mail.body_text = mail.body_text.replace(_SLOT, receipt_no)
        if mail.body_html:
            mail.body_html = mail.body_html.replace(_SLOT, receipt_no)
        queue(mail)


def _reject(intent, source: str, reason: str, ip: str | None, **details) -> str:
    _event(intent, source, details.pop("gateway_status", None), "rejected", reason=reason, **details)
    record("payment.message_rejected", target=intent, target_type="PaymentIntent", ip=ip,
           reason=reason, source=source, **details)
    return "rejected"


def apply_result(intent: PaymentIntent, result: GatewayResult, *, source: str, ip: str | None = None) -> str:
    """Apply what the gateway says about `intent`; returns the outcome (applied, noted, duplicate, ...)."""
    intent = _lock(intent)
    unique_id = _unique_event_id(intent, result, source)
    if unique_id and db.session.scalar(select(PaymentEvent.id).where(PaymentEvent.gateway_event_id == unique_id)):
        _event(intent, source, result.status, "duplicate", replay_of=unique_id)  # this event was applied already
        return "duplicate"
    payment_id = result.details.get("payment_id")
    if payment_id and intent.gateway_payment_id and payment_id != intent.gateway_payment_id:
        return _reject(intent, source, "different gateway payment", ip, gateway_status=result.status,
                       payment_id=str(payment_id)[:64])
    if result.status == G.NOTICE:
        return _apply_notice(intent, result, source, unique_id, ip)
    if result.txn_id is not None and not (isinstance(result.txn_id, str) and 0 < len(result.txn_id) <= TXN_ID_MAX):
        return _reject(intent, source, "malformed transaction id", ip, gateway_status=result.status)
    if result.status != G.NOT_FOUND and (result.amount_sen is None or result.currency is None):
        return _reject(intent, source, "no amount or currency", ip, gateway_status=result.status)
    if result.amount_sen is not None and result.amount_sen != intent.amount_sen or \
            result.currency not in (None, intent.currency):
        return _reject(intent, source, "amount or currency mismatch", ip, gateway_status=result.status,
                       amount_sen=result.amount_sen, currency=result.currency)
    if result.txn_id and intent.gateway_txn_id and result.txn_id != intent.gateway_txn_id:
        return _reject(intent, source, "different gateway transaction", ip, gateway_status=result.status,
                       txn_id=result.txn_id)
    new_status, outcome = TRANSITIONS[(intent.status, result.status)]
    _event(intent, source, result.status, outcome, raw=result.raw_status, event_id=result.event_id,
           unique_id=unique_id)
    if payment_id and not intent.gateway_payment_id and isinstance(payment_id, str) and len(payment_id) <= 64:
        intent.gateway_payment_id = payment_id
    if outcome in ("applied", "noted"):
        if result.txn_id and result.status != G.NOT_FOUND:
            intent.gateway_txn_id = result.txn_id
        intent.gateway_status = result.raw_status
    if new_status == S.SUCCEEDED and intent.status != S.SUCCEEDED:
        _succeed(intent, source=source)
    elif new_status == S.FAILED and intent.status == S.PENDING:
        intent.status, intent.pending_reason = S.FAILED, None
    elif new_status == S.PENDING and result.status in PENDING_REASONS:
        reason = PENDING_REASONS[result.status]
        # "not found" while we already know the customer went to the bank does not undo that knowledge
        if not (result.status == G.NOT_FOUND and intent.pending_reason != PendingReason.AWAITING_CUSTOMER):
            intent.pending_reason = reason
    return outcome


def handle_callback(gateway_name: str, body: bytes, headers, ip: str | None = None) -> str:
    """A server-to-server callback: signature first, then the intent, then the state machine."""
    try:
        gateway = get_gateway(gateway_name)
    except RuntimeError:
        raise NotFound() from None
    try:
        result = gateway.verify_callback(body, headers)
    except SignatureInvalid:
        return _reject(None, "callback", "bad signature", ip)
    except IgnoredMessage as exc:
        _event(None, "callback", str(exc)[:40], "ignored", gateway=gateway.name)
        return "ignored"
    except (ValueError, UnicodeDecodeError):
        return _reject(None, "callback", "malformed", ip)
    intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == result.merchant_ref))
    if intent is None or intent.gateway != gateway.name:
        return _reject(None, "callback", "unknown reference", ip, merchant_ref=result.merchant_ref[:40])
    return apply_result(intent, result, source="callback", ip=ip)


def refresh(intent: PaymentIntent, *, source: str, returned: bool = False) -> str:
    """Ask the gateway about a pending online intent and apply the answer ("check again").

    `returned`: the customer is back from the gateway, so if the gateway cannot answer we
    say we are waiting for the bank's answer rather than for the customer.
    """
    if intent.status != S.PENDING or not intent.is_online:
        return "unchanged"
    return _apply_answer(intent, _ask(intent), source=source, returned=returned)


def _ask(intent: PaymentIntent) -> GatewayResult | Exception:
    """The gateway's answer about `intent` (a network call: take no lock before it), or why there is none."""
    try:
        return get_gateway(intent.gateway).requery(intent)
    except (GatewayUnavailable, SignatureInvalid, ValueError) as exc:
        return exc


def _apply_answer(intent: PaymentIntent, answer, *, source: str, returned: bool = False) -> str:
    if isinstance(answer, Exception):
        intent = _lock(intent)
        if returned and intent.status == S.PENDING:
            intent.pending_reason = PendingReason.AWAITING_ANSWER
        _event(intent, source, None, "unavailable", error=str(answer)[:200])
        return "unavailable"
    return apply_result(intent, answer, source=source)


# -- several payments for one payable ---------------------------------------------------------
# A customer who closed the bank's page may come back and pay again while the first payment is
# still in flight (the bank took the money; its answer was lost). So before a payable offers a
# new payment it asks about every one in flight (`ask_in_flight`, then `settle_answers`), and
# offers it only when none is left: what the gateway has never seen and whose time has passed
# is expired; money that arrives anyway for a payable paid already goes back (the payable's
# settle handler returns it: wallet.return_payment).

def in_flight(kind: str, payable_ref: str) -> list[PaymentIntent]:
    """The online payments of this payable that may still be in flight (pending), oldest first."""
    return list(db.session.scalars(
        select(PaymentIntent).where(PaymentIntent.kind == kind, PaymentIntent.payable_ref == payable_ref,
                                    PaymentIntent.status == S.PENDING, PaymentIntent.method.in_(Method.ONLINE))
        .order_by(PaymentIntent.id)))


def ask_in_flight(kind: str, payable_ref: str) -> list[tuple[int, object]]:
    """Ask the gateway about each payment in flight for this payable: [(intent id, answer)].
    Network only: the caller ends its read transaction, then applies them with `settle_answers`."""
    return [(intent.id, _ask(intent)) for intent in in_flight(kind, payable_ref)]


def settle_answers(answers: list[tuple[int, object]], *, source: str = "recheck") -> None:
    """Apply what `ask_in_flight` heard (settling what was paid), in id order, each under its lock;
    a payment the gateway has never seen whose time to pay has passed is expired (abandoned)."""
    now = utcnow()
    for intent_id, answer in sorted(answers, key=lambda a: a[0]):
        intent = db.session.get(PaymentIntent, intent_id)
        if intent is None:
            continue
        # Applied whatever the status is now: "paid" for a payment expired meanwhile (closed when
        # another paid the payable) still succeeds it, and the money goes back.
        outcome = _apply_answer(intent, answer, source=source)
        intent = db.session.get(PaymentIntent, intent_id)
        if outcome != "unavailable" and intent.status == S.PENDING and \
                intent.pending_reason == PendingReason.AWAITING_CUSTOMER and now > intent.expires_at:
            expire(intent, note="never reached the bank in its time to pay")


def abandon(user, reference: str, *, ip: str | None = None) -> str:
    """The customer gives up a payment they never made ("pay another way"): ask the gateway first;
    if it has never seen the payment, expire it (money that still arrives for it is never dropped:
    it succeeds, and the payable returns it). Returns the outcome ("abandoned", "applied" when it
    was paid after all); Conflict when the bank has it (pending or paid)."""
    intent = get_for_user(user, reference)
    if intent.status != S.PENDING or not intent.is_online:
        raise Conflict(_l("This payment is no longer waiting to be paid."))
    answer = _ask(intent)  # network, before any lock
    outcome = _apply_answer(intent, answer, source="abandon")
    intent = _lock(intent)
    if intent.status != S.PENDING:
        return outcome
    if outcome == "unavailable" or intent.pending_reason != PendingReason.AWAITING_CUSTOMER:
        raise Conflict(_l("Your bank may have this payment: we are still checking it, so it cannot be "
                          "abandoned. Please check again in a few minutes."))
    intent.status, intent.pending_reason = S.EXPIRED, None
    _event(intent, "abandon", None, "applied", action="abandon")
    record("payment.abandoned", actor=user, target=intent, ip=ip, reference=intent.reference)
    return "abandoned"


def close_unstarted(kind: str, payable_ref: str, *, paid_by: str | None) -> list[str]:
    """The payable was paid (by `paid_by`): its other payments that never reached the bank are
    abandoned now, so they do not read "pending" beside the paid one. No network (this runs in
    the settling transaction); money that still arrives for one succeeds it and is returned."""
    closed = []
    for intent in in_flight(kind, payable_ref):
        if intent.reference == paid_by or intent.pending_reason != PendingReason.AWAITING_CUSTOMER:
            continue
        # SKIP LOCKED: a payment locked by another transaction is being settled or answered right
        # now (waiting for it, while we hold the payable, could deadlock): it is left as it is.
        intent = db.session.execute(
            select(PaymentIntent).where(PaymentIntent.id == intent.id)
            .with_for_update(of=PaymentIntent, skip_locked=True).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if intent is not None and intent.status == S.PENDING and \
                intent.pending_reason == PendingReason.AWAITING_CUSTOMER:
            intent.status, intent.pending_reason = S.EXPIRED, None
            _event(intent, "system", None, "applied", action="expire", note=f"payable paid by {paid_by}")
            closed.append(intent.reference)
    return closed


def refund_of(intent: PaymentIntent) -> RefundRequest | None:
    """The refund-queue entry that returns this whole payment (see `queue_refund`'s default key), if any."""
    return db.session.scalar(select(RefundRequest).where(RefundRequest.idempotency_key == f"intent:{intent.reference}"))


def returned_payments(kind: str, payable_ref: str, *, kept: str | None) -> list[tuple[PaymentIntent, object]]:
    """Payments of this payable that succeeded but were not kept (paid twice, or paid for what was
    closed): each with its refund-queue entry, or None when the money went back to the wallet."""
    q = select(PaymentIntent).where(PaymentIntent.kind == kind, PaymentIntent.payable_ref == payable_ref,
                                    PaymentIntent.status == S.SUCCEEDED)
    if kept:
        q = q.where(PaymentIntent.reference != kept)
    intents = list(db.session.scalars(q.order_by(PaymentIntent.id)))
    refunds = {r.intent_id: r for r in db.session.scalars(
        select(RefundRequest).where(RefundRequest.intent_id.in_([i.id for i in intents])))} if intents else {}
    return [(i, refunds.get(i.id)) for i in intents]


def expire(intent: PaymentIntent, *, note: str = "") -> str:
    intent = _lock(intent)
    if intent.status != S.PENDING:
        return "ignored"
    intent.status, intent.pending_reason = S.EXPIRED, None
    _event(intent, "system", None, "applied", action="expire", note=note)
    return "applied"


# -- reconciliation -------------------------------------------------------------------------
@dataclass
class ReconcileLine:
    reference: str
    before: str
    after: str
    outcome: str
    note: str = ""

    @property
    def fixed(self) -> bool:
        return self.before != self.after


def reconcile_candidates(now=None, limit: int = 500) -> list[int]:
    """Ids of pending intents old enough to requery, whose backoff has run out."""
    now = now or utcnow()
    min_age = timedelta(seconds=current_app.config["RECONCILE_MIN_AGE_SECONDS"])
    q = (select(PaymentIntent.id).where(PaymentIntent.status == S.PENDING,
                                        PaymentIntent.created_at <= now - min_age,
                                        (PaymentIntent.next_requery_at.is_(None))
                                        | (PaymentIntent.next_requery_at <= now))
         .order_by(PaymentIntent.id).limit(limit))
    return list(db.session.scalars(q))


def reconcile_one(intent_id: int, now=None) -> ReconcileLine:
    """Requery one pending intent, settle it if paid, expire it when hope is gone, else back off."""
    now = now or utcnow()
    cfg = current_app.config
    intent = db.session.get(PaymentIntent, intent_id)
    before = intent.status
    if intent.method == Method.WALLET:
        outcome = expire(intent, note="wallet payment never completed") if now > intent.expires_at else "noted"
        return ReconcileLine(intent.reference, before, intent.status, outcome)
    outcome = refresh(intent, source="reconcile")
    intent = db.session.get(PaymentIntent, intent_id)
    note = ""
    if intent.status == S.PENDING:
        age = (now - intent.created_at).total_seconds()
        never_paid = intent.pending_reason == PendingReason.AWAITING_CUSTOMER and now > intent.expires_at
        if outcome == "unavailable":
            # The gateway did not answer: the customer may well have paid. Never expire on
            # silence; keep asking, and past the give-up age put it in front of staff.
            intent = _lock(intent)
            if age >= cfg["RECONCILE_GIVE_UP_SECONDS"] and not intent.needs_review:
                intent.needs_review = True
                intent.review_note = ReviewNote.GATEWAY_SILENT
            note = "gateway unavailable; "
        if outcome != "unavailable" and (never_paid or age >= cfg["RECONCILE_GIVE_UP_SECONDS"]):
            expire(intent, note="reconcile: no payment confirmed in time")
            note = "expired (a later callback still credits)"
        else:
            intent = _lock(intent)
            intent.requery_count += 1
            wait = backoff_seconds(intent.requery_count, cfg["RECONCILE_MIN_AGE_SECONDS"], 3600)
            intent.next_requery_at = now + timedelta(seconds=wait)
            note += f"still {intent.pending_reason}; next requery in {wait}s"
    return ReconcileLine(intent.reference, before, intent.status, outcome, note)


# -- refunds --------------------------------------------------------------------------------
def queue_refund(intent: PaymentIntent, amount_sen: int, reason_code: str, detail: str = "", *,
                 key: str | None = None) -> RefundRequest:
    """Put money we must give back on the staff refund queue (idempotent per key/intent).

    `reason_code` is a RefundReason; `detail` a language-neutral addition (a reference, staff's words)."""
    if reason_code not in REFUND_REASON_LABELS:
        raise ValueError(f"unknown refund reason {reason_code!r}")
    if not isinstance(amount_sen, int) or amount_sen <= 0 or amount_sen > intent.amount_sen:
        raise ValidationError(_l("The refund amount is not valid."))
    key = key or f"intent:{intent.reference}"
    found = db.session.scalar(select(RefundRequest).where(RefundRequest.idempotency_key == key))
    if found is not None:
        return found
    queued = db.session.scalar(select(func.coalesce(func.sum(RefundRequest.amount_sen), 0))
                               .where(RefundRequest.intent_id == intent.id))
    if queued + amount_sen > intent.amount_sen:  # never give back more than was paid, however it is split
        raise Conflict(_l("This would refund more than was paid."))
    refund = RefundRequest(reference=new_reference("RFD"), idempotency_key=key, intent_id=intent.id,
                           user_id=intent.user_id, amount_sen=amount_sen, reason_code=reason_code,
                           reason=str(detail)[:300])
    with db.session.begin_nested():
        db.session.add(refund)
    record("payment.refund_queued", target=refund, reference=refund.reference, intent=intent.reference,
           amount_sen=amount_sen, reason=reason_code, detail=str(detail)[:200])
    return refund


def resolve_refund(staff, reference: str, note: str, *, ip: str | None = None) -> RefundRequest:
    """Staff mark a queued refund as paid back (by bank transfer or the gateway's refund)."""
    if not staff.is_staff:
        raise Forbidden()
    refund = lock_one(select(RefundRequest).where(RefundRequest.reference == reference), of=RefundRequest)
    if refund is None:
        raise NotFound()
    if refund.status != RefundStatus.OPEN:
        raise Conflict(_l("This refund has already been resolved."))
    if refund.gateway_status in ("issuing", "pending"):  # payments.refunds: the gateway is returning it
        raise Conflict(_l("This refund is already being returned through the gateway."))
    if not (note or "").strip():
        raise ValidationError(_l("Say how the money was returned."), field="note")
    refund.status, refund.resolved_by_id, refund.resolved_at = RefundStatus.DONE, staff.id, utcnow()
    refund.resolution_note = note.strip()[:300]
    for handler in _REFUND_HANDLERS:
        handler(refund)
    record("payment.refund_resolved", actor=staff, target=refund, ip=ip, reference=refund.reference,
           amount_sen=refund.amount_sen)
    return refund


def mark_reviewed(staff, reference: str, *, ip: str | None = None) -> PaymentIntent:
    if not staff.is_staff:
        raise Forbidden()
    intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))
    if intent is None:
        raise NotFound()
    intent = _lock(intent)
    if not intent.needs_review:  # reviewed already (two staff, one click): one audit event
        return intent
    intent.needs_review = False
    record("payment.reviewed", actor=staff, target=intent, ip=ip, reference=intent.reference)
    return intent


# -- queries for pages ------------------------------------------------------------------------
def history_query(user):
    return (select(PaymentIntent).where(PaymentIntent.user_id == user.id)
            .order_by(PaymentIntent.created_at.desc(), PaymentIntent.id.desc()))


def receipt_for(user, reference: str, *, as_staff: bool = False) -> PaymentIntent:
    intent = get_for_user(user, reference, as_staff=as_staff)
    if intent.status != S.SUCCEEDED or not intent.receipt_no:
        raise NotFound()
    return intent
