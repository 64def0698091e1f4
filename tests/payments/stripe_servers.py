"""Test servers and signed events for the Stripe adapter's tests.

- `localstripe` (PyPI), started on loopback: what it plays faithfully (a card PaymentIntent
  created with confirm=True, retrieving it, refunds).
- `CheckoutRecorder`: a small HTTP server on loopback that records what the adapter sends to
  `/v1/checkout/sessions` and answers as Stripe's API reference shows (localstripe has no
  Checkout Sessions); every other path is passed through to localstripe.
- `signed_event`: an event signed the way Stripe documents (`Stripe-Signature:
  t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import stripe

from tests.services import free_port, port_open, require_service

WEBHOOK_SECRET = "whsec_test_ebiz"


def start_localstripe():
    """(process, url) of a fresh localstripe on loopback."""
    exe = Path(sys.executable).parent / "localstripe"
    if not exe.exists():
        require_service("localstripe", f"{exe} is not installed (make install-dev)")
    port = free_port()
    proc = subprocess.Popen([str(exe), "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30  # a loaded machine starts it slowly: wait until it answers HTTP
    while time.monotonic() < deadline and proc.poll() is None:
        if port_open("127.0.0.1", port):
            try:
                urllib.request.urlopen(url + "/v1/customers", timeout=2)  # noqa: S310 (loopback)
            except urllib.error.HTTPError:
                return proc, url  # it answered (401 without a key): ready
            except OSError:
                pass
            else:
                return proc, url
        time.sleep(0.1)
    proc.kill()
    require_service("localstripe", "did not start within 30 s")


class CheckoutRecorder:
    """Checkout Sessions as Stripe's API reference shows them; other requests go to localstripe."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.requests: list[dict] = []
        self.sessions: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}
        self.balance_transactions: list[dict] = []  # answered to GET /v1/balance_transactions (localstripe
        self.balance_queries: list[dict] = []        # refuses its `created` filter)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, code: int, body: dict | bytes):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _proxy(self, method: str, body: bytes | None):
                req = urllib.request.Request(recorder.upstream + self.path, data=body, method=method,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() not in ("host", "content-length")})
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
                        return self._answer(resp.status, resp.read())
                except urllib.error.HTTPError as exc:
                    return self._answer(exc.code, exc.read())

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/checkout/sessions":
                    return self._proxy("POST", body)
                form = dict(parse_qsl(body.decode()))
                key = self.headers.get("Idempotency-Key")
                recorder.requests.append({"form": form, "idempotency_key": key,
                                          "authorization": self.headers.get("Authorization")})
                if key in recorder.by_key:  # Stripe answers a repeated key with the first answer
                    return self._answer(200, recorder.by_key[key])
                sid = "cs_test_" + secrets.token_hex(12)
                session = {
                    "id": sid, "object": "checkout.session", "mode": form.get("mode"),
                    "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                    "currency": form["line_items[0][price_data][currency]"],
                    "client_reference_id": form.get("client_reference_id"),
                    "metadata": {"ebiz_ref": form.get("metadata[ebiz_ref]")},
                    "payment_method_types": [form.get("payment_method_types[0]")],
                    "payment_intent": None, "payment_status": "unpaid", "status": "open",
                    "expires_at": int(form["expires_at"]), "success_url": form.get("success_url"),
                    "url": f"https://checkout.stripe.com/c/pay/{sid}",
                }
                recorder.sessions[sid] = recorder.by_key[key] = session
                return self._answer(200, session)

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/v1/balance_transactions":
                    query = dict(parse_qsl(self.path.split("?", 1)[1] if "?" in self.path else ""))
                    recorder.balance_queries.append(query)
                    gte, lt = int(query["created[gte]"]), int(query["created[lt]"])
                    data = [t for t in recorder.balance_transactions if gte <= t["created"] < lt]
                    return self._answer(200, {"object": "list", "url": "/v1/balance_transactions",
                                              "has_more": False, "data": data})
                if not path.startswith("/v1/checkout/sessions/"):
                    return self._proxy("GET", None)
                session = recorder.sessions.get(path.rsplit("/", 1)[1])
                if session is None:
                    return self._answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                                        "message": "No such checkout.session"}})
                out = dict(session)
                if "expand" in self.path and out.get("payment_intent"):
                    pid = out["payment_intent"]
                    with urllib.request.urlopen(urllib.request.Request(  # noqa: S310 (loopback)
                            f"{recorder.upstream}/v1/payment_intents/{pid}",
                            headers={"Authorization": self.headers.get("Authorization", "")})) as resp:
                        out["payment_intent"] = json.loads(resp.read())
                return self._answer(200, out)

        port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict, *, event_id: str | None = None) -> dict:
    """A Stripe event as the API reference shows it."""
    return {"id": event_id or "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2024-06-20",
            "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind, "data": {"object": obj}}


def session_object(intent, *, session_id: str, payment_status="paid", status="complete", amount=None,
                   currency="myr", payment_intent="auto") -> dict:
    return {"id": session_id, "object": "checkout.session", "mode": "payment",
            "amount_total": intent.amount_sen if amount is None else amount, "currency": currency,
            "client_reference_id": intent.reference, "metadata": {"ebiz_ref": intent.reference},
            "payment_intent": "pi_" + secrets.token_hex(12) if payment_intent == "auto" else payment_intent,
            "payment_method_types": [intent.method], "payment_status": payment_status, "status": status,
            "url": None}


def payment_intent_object(intent, *, pi_id: str | None = None, status="succeeded", amount=None, error=None) -> dict:
    amount = intent.amount_sen if amount is None else amount
    return {"id": pi_id or "pi_" + secrets.token_hex(12), "object": "payment_intent", "amount": amount,
            "amount_received": amount if status == "succeeded" else 0, "currency": "myr",
            "metadata": {"ebiz_ref": intent.reference}, "payment_method_types": [intent.method], "status": status,
            "last_payment_error": error}


def post_event(client, evt: dict, *, secret: str = WEBHOOK_SECRET, sig: str | None = None, t: int | None = None):
    payload = json.dumps(evt).encode()
    return client.post("/payments/callback/stripe", data=payload, headers={
        "Stripe-Signature": sig if sig is not None else signature(payload, secret, t),
        "Content-Type": "application/json"})


SECRET_KEY = "sk_test_ebiz_" + "x" * 16


def card_payment_at_localstripe(localstripe_url, intent) -> str:
    """A card PaymentIntent for `intent`, paid at localstripe (confirm=True at creation: what it plays)."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    pi = client.v1.payment_intents.create(params={
        "amount": intent.amount_sen, "currency": "myr", "payment_method": pm.id, "confirm": True,
        "payment_method_types": ["card"], "metadata": {"ebiz_ref": intent.reference}})
    assert pi.status == "succeeded"
    return pi.id
