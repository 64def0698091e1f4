"""The sandbox gateway's own books: its transactions, in its own database.

The sandbox plays the bank/card network, so it keeps its state apart from eBiz's
(`SANDBOX_DATABASE_URL`, a SQLite file by default) and never in process memory: any
gunicorn worker, or the separate sandbox server, answers requeries the same way.
It stores no card number, expiry or CVV either: only the brand and last four digits.

Transaction status codes (FPX style): "created" (customer has not paid yet),
"00" paid, "09" pending, "99" pending authorisation, other codes failed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select, update
from sqlalchemy.engine import Engine

from ...money import parse_ringgit
from ..signing import sign, verify_params

metadata = MetaData()

txn_table = Table(
    "sandbox_txn", metadata,
    Column("txn_id", String(24), primary_key=True),
    Column("merchant_ref", String(40), unique=True, nullable=False),
    Column("amount", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(10), nullable=False),
    Column("bank_code", String(20)),
    Column("status_code", String(12), nullable=False),
    Column("status_text", String(120)),
    Column("card_brand", String(12)),
    Column("card_last4", String(4)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("callback_url", String(500), nullable=False),
    Column("return_url", String(500), nullable=False),
    Column("callback_mode", String(20), nullable=False, default="normal"),
    Column("callbacks_sent", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

refund_table = Table(
    "sandbox_refund", metadata,
    Column("refund_id", String(24), primary_key=True),
    Column("idempotency_key", String(120), unique=True, nullable=False),
    Column("merchant_ref", String(40), nullable=False),
    Column("amount_sen", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

STATUS_TEXT = {
    "created": "Awaiting payment",
    "00": "Approved",
    "09": "Transaction pending",
    "99": "Pending authorisation (corporate approver)",
    "51": "Insufficient funds",
    "1C": "Cancelled by buyer",
    "05": "Do not honour (declined)",
    "91": "Issuer unavailable, try again",
}
CALLBACK_MODES = ("normal", "delay", "duplicate", "drop")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def engine() -> Engine:
    url = current_app.config["SANDBOX_DATABASE_URL"]
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
            eng = create_engine(url, **kwargs)
            metadata.create_all(eng)
            _engines[url] = eng
    return eng


def dispose_all() -> None:
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


def open_transaction(params: dict) -> dict:
    """The transaction for a signed payment request: created on first sight, else the same one."""
    with engine().begin() as c:
        row = c.execute(select(txn_table).where(txn_table.c.merchant_ref == params["merchant_ref"])).mappings().first()
        if row is not None:
            return dict(row)
        now = _now()
        values = dict(txn_id="SBX" + secrets.token_hex(8).upper(), merchant_ref=params["merchant_ref"],
                      amount=params["amount"], currency=params["currency"], method=params["method"],
                      bank_code=params.get("bank_code") or None, status_code="created",
                      status_text=STATUS_TEXT["created"], attempts=0, callback_url=params["callback_url"],
                      return_url=params["return_url"], callback_mode="normal", callbacks_sent=0,
                      created_at=now, updated_at=now)
        c.execute(insert(txn_table).values(**values))
        return values


def get(txn_id: str) -> dict | None:
    with engine().connect() as c:
        row = c.execute(select(txn_table).where(txn_table.c.txn_id == txn_id)).mappings().first()
        return dict(row) if row else None


def set_status(txn_id: str, code: str, **fields) -> dict:
    with engine().begin() as c:
        c.execute(update(txn_table).where(txn_table.c.txn_id == txn_id).values(
            status_code=code, status_text=STATUS_TEXT.get(code, code), updated_at=_now(), **fields))
        return dict(c.execute(select(txn_table).where(txn_table.c.txn_id == txn_id)).mappings().one())


def message(txn: dict) -> bytes:
    """The signed body of a callback or requery answer for this transaction."""
    body = {k: txn.get(k) for k in ("merchant_ref", "txn_id", "amount", "currency", "method", "bank_code",
                                    "status_text", "card_brand", "card_last4")}
    body.update(status_code=txn["status_code"], event_id=f"{txn['txn_id']}:{txn['status_code']}",
                ts=int(time.time()))
    return json.dumps(body, sort_keys=True).encode()


def requery_answer(params: dict, secret: str) -> tuple[bytes, str]:
    """Answer a signed requery: (body, signature). Unknown references answer "not_found"."""
    if not verify_params(secret, params):
        body = json.dumps({"error": "bad signature"}).encode()
        return body, ""
    with engine().connect() as c:
        row = c.execute(select(txn_table).where(txn_table.c.merchant_ref == params.get("merchant_ref"))
                        ).mappings().first()
    if row is None or row["status_code"] == "created":
        body = json.dumps({"merchant_ref": params.get("merchant_ref"), "status_code": "not_found",
                           "status_text": "No payment attempt yet",
                           "txn_id": row["txn_id"] if row else None}).encode()
    else:
        body = message(dict(row))
    return body, sign(secret, body)


def send_callback(txn: dict, secret: str, *, mode: str | None = None, delay: float = 0.0) -> None:
    """Send the signed server-to-server callback in the background, as the mode says.

    normal: once, now; delay: once, after `delay` seconds; duplicate: twice; drop: never.
    A failed delivery is retried a few times with backoff, as real gateways do.
    """
    mode = mode or txn.get("callback_mode") or "normal"
    if mode == "drop":
        return
    body = message(txn)
    signature = sign(secret, body)
    copies = 2 if mode == "duplicate" else 1
    wait = delay if mode == "delay" else 0.0

    def deliver():
        time.sleep(wait)
        for _ in range(copies):
            for attempt in range(3):
                try:
                    req = urllib.request.Request(txn["callback_url"], data=body, method="POST", headers={  # noqa: S310
                        "Content-Type": "application/json", "X-Sandbox-Signature": signature})
                    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 (merchant's URL)
                        break
                except urllib.error.HTTPError as exc:
                    if exc.code < 500:  # the merchant refused it: resending will not help
                        break
                except Exception:  # noqa: BLE001,S110 (a bank retries whatever went wrong)
                    pass
                time.sleep(0.5 * 2**attempt)

    threading.Thread(target=deliver, name=f"sandbox-callback-{txn['txn_id']}", daemon=True).start()


def refund_answer(params: dict, secret: str) -> tuple[bytes, str]:
    """Refund a paid transaction (signed request; once per idempotency key): (signed body, signature).
    Refused ("failed") when the transaction is not paid or the refunds would exceed what it took."""
    if not verify_params(secret, params):
        return json.dumps({"error": "bad signature"}).encode(), ""
    key, ref = params.get("key", ""), params.get("merchant_ref", "")
    try:
        amount = int(params.get("amount_sen", ""))
    except ValueError:
        amount = 0
    with engine().begin() as c:
        done = c.execute(select(refund_table).where(refund_table.c.idempotency_key == key)).mappings().first()
        if done is None:
            txn = c.execute(select(txn_table).where(txn_table.c.merchant_ref == ref)).mappings().first()
            taken = sum(r.amount_sen for r in c.execute(select(refund_table.c.amount_sen).where(
                refund_table.c.merchant_ref == ref, refund_table.c.status == "succeeded")))
            paid = parse_ringgit(txn["amount"]) if txn is not None and txn["status_code"] == "00" else 0
            ok = amount > 0 and taken + amount <= paid
            done = dict(refund_id="SBR" + secrets.token_hex(8).upper(), idempotency_key=key, merchant_ref=ref,
                        amount_sen=amount, status="succeeded" if ok else "failed", created_at=_now())
            c.execute(insert(refund_table).values(**done))
    body = json.dumps({"refund_id": done["refund_id"], "status": done["status"], "amount_sen": done["amount_sen"],
                       "merchant_ref": ref}).encode()
    return body, sign(secret, body)


def collected_answer(params: dict, secret: str) -> tuple[bytes, str]:
    """What the sandbox bank took (status "00") between two UTC times, in sen: (signed body, signature)."""
    if not verify_params(secret, params):
        return json.dumps({"error": "bad signature"}).encode(), ""
    start, end = datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])
    with engine().connect() as c:
        amounts = c.execute(select(txn_table.c.amount).where(
            txn_table.c.status_code == "00", txn_table.c.updated_at >= start, txn_table.c.updated_at < end)).scalars()
        total = sum(parse_ringgit(a) for a in amounts)
    body = json.dumps({"collected_sen": total, "start": params["start"], "end": params["end"]}).encode()
    return body, sign(secret, body)
