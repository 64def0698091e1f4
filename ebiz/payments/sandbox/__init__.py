"""The sandbox payment gateway: a stand-in for a Malaysian FPX/card gateway.

It is its own blueprint under /sandbox-gateway with its own secret and its own database,
mounted in the eBiz process by default (so `make run` needs nothing else) and runnable as
a separate small server (`python -m ebiz.payments.sandbox --port 8090`, or
`make_sandbox_app()` + `serve_in_thread()` in tests) so that callbacks really cross HTTP.

What it does, like a real gateway:
- a page to pick an FPX bank (the retail and corporate bank list of `banks.py`) and the
  bank's answer, or to enter a card (Luhn-checked Visa/Mastercard test numbers, below);
- a browser redirect back to the merchant's return URL, AND a separate server-to-server
  callback signed with HMAC-SHA256 over the shared secret; the callback can be sent
  normally, delayed, duplicated or dropped (a choice on the payment page, for testing);
- a requery API answering the current status of a transaction (signed);
- FPX statuses "09" pending and "99" pending authorisation (a corporate account waits for
  a second approver, who approves later on /sandbox-gateway/txn/<id>).

Test cards (any future expiry, any 3-digit CVV):
  approve  4111 1111 1111 1111 (Visa)   5555 5555 5555 4444 (Mastercard)
  decline  4000 0000 0000 0002 (Visa)   5105 1051 0510 5100 (Mastercard)
  retry    4000 0000 0000 0119 (Visa)   5200 8282 8282 8210 (Mastercard): first try fails "try again"
  pending  4000 0000 0000 3220 (Visa)   5454 5454 5454 5454 (Mastercard): issuer review, approve later
Other Luhn-valid Visa/Mastercard numbers are declined ("05"); others are refused as invalid.
"""

from __future__ import annotations

import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

TEST_CARDS = {
    "4111111111111111": "approve", "5555555555554444": "approve",
    "4000000000000002": "decline", "5105105105105100": "decline",
    "4000000000000119": "retry", "5200828282828210": "retry",
    "4000000000003220": "pending", "5454545454545454": "pending",
}


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_expiry_ok(text: str, today) -> bool:
    """'MM/YY' (or 'MM/YYYY') of a card still valid on `today`: it works to the end of that month."""
    month, _sep, year = (text or "").strip().partition("/")
    month, year = month.strip(), year.strip()
    if not (f"{month}{year}".isascii() and month.isdecimal() and year.isdecimal() and len(year) in (2, 4)):
        return False
    month, year = int(month), int(year)
    year += 2000 if year < 100 else 0
    return 1 <= month <= 12 and (year, month) >= (today.year, today.month)


def card_brand(number: str) -> str | None:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or (len(number) >= 4 and 2221 <= int(number[:4]) <= 2720):
        return "Mastercard"
    return None


def make_sandbox_app(**config):
    """A small Flask app serving only the sandbox gateway (its own secret and database)."""
    # Only a stand-alone sandbox server needs these; its views import this package (a cycle at the top).
    from flask import Flask
    from flask_babel import Babel

    from ...extensions import csrf
    from .views import bp

    app = Flask(__name__, template_folder=str(ROOT / "templates"))
    app.config.update(
        SECRET_KEY="sandbox-gateway-session-key",  # noqa: S106 (a test gateway)
        # Its own cookie: on loopback both servers share the host, and cookies ignore ports.
        SESSION_COOKIE_NAME="sandbox_gateway_session",
        SANDBOX_GATEWAY_SECRET="sandbox-shared-secret",  # noqa: S106 (the sandbox default)
        SANDBOX_DATABASE_URL=f"sqlite:///{ROOT / 'instance' / 'sandbox_gateway.db'}",
        SANDBOX_CALLBACK_DELAY_SECONDS=3,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
    )
    app.config.update(config)
    Babel(app)
    csrf.init_app(app)
    app.register_blueprint(bp)
    return app


class ThreadedServer:
    """A werkzeug server in a daemon thread (tests): `.url`, `.stop()`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        from werkzeug.serving import make_server  # tests and tools only: production never serves this way

        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(app, port: int = 0) -> ThreadedServer:
    return ThreadedServer(app, port=port)
