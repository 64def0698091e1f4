"""The payment gateway interface, and the adapter for the built-in sandbox gateway.

A gateway does three things: `start` (where to send the customer to pay), `verify_callback`
(check a server-to-server notification's signature and read it), and `requery` (ask the
gateway for a transaction's status). The adapter is chosen by `PAYMENT_GATEWAY`; results
come back as gateway-neutral `GatewayResult`s whose `status` is one of:

    paid, pending, pending_authorisation, failed, not_found

or `notice` (news about a paid payment that does not move it: a refund, a dispute).
Adapters: the sandbox (here) and Stripe (`stripe_gateway`, registered in GATEWAYS when
imported by the payments service).

The sandbox speaks FPX-style status codes: "00" paid, "09" pending, "99" pending
authorisation (corporate banking waits for a second approver), anything else failed.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import current_app

from ..money import parse_ringgit, sen_to_decimal_str
from .signing import sign_params, verify

SIGNATURE_HEADER = "X-Sandbox-Signature"


class GatewayStatus:
    PAID = "paid"
    PENDING = "pending"
    PENDING_AUTHORISATION = "pending_authorisation"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    NOTICE = "notice"


@dataclass
class GatewayResult:
    merchant_ref: str
    status: str
    raw_status: str = ""
    txn_id: str | None = None
    amount_sen: int | None = None
    currency: str | None = None
    event_id: str | None = None
    details: dict = field(default_factory=dict)


class SignatureInvalid(Exception):
    """A message that claims to come from the gateway is not signed by it."""


class IgnoredMessage(Exception):
    """A correctly signed message that eBiz does not act on (answered 200 so it is not resent; logged)."""


class GatewayUnavailable(Exception):
    """The gateway did not answer (network, timeout, 5xx)."""


class Gateway(ABC):
    name = "abstract"
    unique_events = False  # True: the gateway's event ids are unique, and each event is applied once

    @abstractmethod
    def start(self, intent, *, callback_url: str, return_url: str) -> str:
        """The URL to send the customer's browser to, to pay `intent`."""

    @abstractmethod
    def verify_callback(self, body: bytes, headers) -> GatewayResult:
        """Check the signature first, then parse; raise SignatureInvalid or ValueError."""

    @abstractmethod
    def requery(self, intent) -> GatewayResult:
        """Ask the gateway for the current status; raise GatewayUnavailable when it cannot answer."""

    def collected(self, start, end) -> int | None:
        """What the gateway says it collected (sen, MYR) between two UTC times; None when it cannot say."""
        return None

    @abstractmethod
    def refund(self, intent, amount_sen: int, *, key: str, refund_ref: str) -> tuple[str | None, str]:
        """Return `amount_sen` of a paid intent to the payer, once per `key`: (the gateway's refund id,
        "succeeded" | "pending" | "failed"); raise GatewayUnavailable when it cannot answer."""


FPX_CODES = {"00": GatewayStatus.PAID, "09": GatewayStatus.PENDING, "99": GatewayStatus.PENDING_AUTHORISATION}


def map_sandbox_code(code: str) -> str:
    if code == "not_found":
        return GatewayStatus.NOT_FOUND
    return FPX_CODES.get(code, GatewayStatus.FAILED)


def _has_control(value) -> bool:
    if isinstance(value, str):
        return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    if isinstance(value, dict):
        return any(_has_control(k) or _has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_control(v) for v in value)
    return False


MESSAGE_TEXT_MAX = 200  # a gateway's references and codes are short


def parse_sandbox_message(body: bytes) -> GatewayResult:
    """Read a (verified) gateway message; ValueError for anything that is not one. Its text reaches
    the database (a lookup by reference, the event log), so a control character (NUL: PostgreSQL
    refuses it) or an over-long or non-text reference makes the whole message malformed."""
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict) or not data.get("merchant_ref") or "status_code" not in data:
        raise ValueError("not a sandbox gateway message")
    if _has_control(data):
        raise ValueError("control character in a gateway message")
    for key in ("merchant_ref", "txn_id", "currency", "event_id", "status_code"):
        value = data.get(key)
        if value is not None and not (isinstance(value, (str, int)) and not isinstance(value, bool)
                                      and len(str(value)) <= MESSAGE_TEXT_MAX):
            raise ValueError(f"malformed {key} in a gateway message")
    code = str(data["status_code"])
    amount = data.get("amount")
    return GatewayResult(
        merchant_ref=str(data["merchant_ref"]),
        status=map_sandbox_code(code),
        raw_status=code,
        txn_id=data.get("txn_id"),
        amount_sen=parse_ringgit(amount) if amount not in (None, "") else None,
        currency=data.get("currency"),
        event_id=data.get("event_id"),
        details={k: data[k] for k in ("status_text", "method", "bank_code", "card_brand", "card_last4")
                 if k in data},
    )


class SandboxGateway(Gateway):
    """The built-in sandbox: in process (SANDBOX_GATEWAY_URL empty) or a separate server."""

    name = "sandbox"

    @property
    def _secret(self) -> str:
        return current_app.config["SANDBOX_GATEWAY_SECRET"]

    @property
    def _base(self) -> str:
        return (current_app.config.get("SANDBOX_GATEWAY_URL") or "").rstrip("/")

    def start(self, intent, *, callback_url: str, return_url: str) -> str:
        params = sign_params(self._secret, {
            "merchant_ref": intent.reference, "amount": sen_to_decimal_str(intent.amount_sen),
            "currency": intent.currency, "method": intent.method, "bank_code": intent.bank_code,
            "callback_url": callback_url, "return_url": return_url, "ts": int(time.time()),
        })
        return f"{self._base}/sandbox-gateway/pay?{urlencode(params)}"

    def verify_callback(self, body: bytes, headers) -> GatewayResult:
        if not verify(self._secret, body, headers.get(SIGNATURE_HEADER)):
            raise SignatureInvalid()
        return parse_sandbox_message(body)

    def requery(self, intent) -> GatewayResult:
        params = sign_params(self._secret, {"merchant_ref": intent.reference, "ts": int(time.time())})
        if not self._base:
            from .sandbox import store  # the sandbox's own database code loads only when it plays the bank

            body, signature = store.requery_answer(params, self._secret)
        else:
            url = f"{self._base}/sandbox-gateway/api/requery?{urlencode(params)}"
            timeout = current_app.config.get("PAYMENT_GATEWAY_TIMEOUT", 10)
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (configured URL)
                    body, signature = resp.read(), resp.headers.get(SIGNATURE_HEADER)
            except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError; a cut or
                raise GatewayUnavailable(str(exc)) from exc     # garbled reply an HTTPException
        if not verify(self._secret, body, signature):
            raise SignatureInvalid()
        return parse_sandbox_message(body)


    def refund(self, intent, amount_sen: int, *, key: str, refund_ref: str) -> tuple[str | None, str]:
        params = sign_params(self._secret, {"merchant_ref": intent.reference, "amount_sen": amount_sen, "key": key,
                                            "refund_ref": refund_ref, "ts": int(time.time())})
        if not self._base:
            from .sandbox import store  # the in-process sandbox bank: loaded only when it plays the bank here

            body, signature = store.refund_answer(params, self._secret)
        else:
            url = f"{self._base}/sandbox-gateway/api/refund"
            req = urllib.request.Request(url, data=urlencode(params).encode(), method="POST")  # noqa: S310
            timeout = current_app.config.get("PAYMENT_GATEWAY_TIMEOUT", 10)
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured URL)
                    body, signature = resp.read(), resp.headers.get(SIGNATURE_HEADER)
            except (OSError, http.client.HTTPException) as exc:
                raise GatewayUnavailable(str(exc)) from exc
        if not verify(self._secret, body, signature):
            raise GatewayUnavailable("refund answer not signed by the sandbox")
        data = json.loads(body)
        return data.get("refund_id"), data["status"]


    def collected(self, start, end) -> int | None:
        params = sign_params(self._secret, {"start": start.isoformat(), "end": end.isoformat(), "ts": int(time.time())})
        if not self._base:
            from .sandbox import store  # the in-process sandbox bank: loaded only when it plays the bank here

            body, signature = store.collected_answer(params, self._secret)
        else:
            url = f"{self._base}/sandbox-gateway/api/collected?{urlencode(params)}"
            try:
                with urllib.request.urlopen(url, timeout=current_app.config.get("PAYMENT_GATEWAY_TIMEOUT", 10)  # noqa: S310
                                            ) as resp:
                    body, signature = resp.read(), resp.headers.get(SIGNATURE_HEADER)
            except (OSError, http.client.HTTPException) as exc:
                raise GatewayUnavailable(str(exc)) from exc
        if not verify(self._secret, body, signature):
            raise GatewayUnavailable("settlement answer not signed by the sandbox")
        return int(json.loads(body)["collected_sen"])


GATEWAYS: dict[str, type[Gateway]] = {"sandbox": SandboxGateway}


def get_gateway(name: str | None = None) -> Gateway:
    name = name or current_app.config["PAYMENT_GATEWAY"]
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise RuntimeError(f"unknown PAYMENT_GATEWAY {name!r}") from None
