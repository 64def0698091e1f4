"""The sandbox gateway's pages and API (blueprint `sandbox_gateway`, /sandbox-gateway)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ...clock import to_local, utcnow
from ...extensions import csrf
from ..banks import BANKS_BY_CODE, FPX_BANKS
from ..signing import sign, verify_params
from . import TEST_CARDS, card_brand, card_expiry_ok, luhn_ok, store

bp = Blueprint("sandbox_gateway", __name__, url_prefix="/sandbox-gateway",
               static_folder="static", static_url_path="/static")

FPX_OUTCOMES = ("00", "51", "1C", "09", "99")
REQUIRED = ("merchant_ref", "amount", "currency", "method", "callback_url", "return_url", "ts", "sig")


def _secret() -> str:
    return current_app.config["SANDBOX_GATEWAY_SECRET"]


def _back(txn: dict) -> str:
    """The merchant's return URL; the query string is informative only (merchants must not trust it)."""
    sep = "&" if "?" in txn["return_url"] else "?"
    return f"{txn['return_url']}{sep}{urlencode({'txn': txn['txn_id'], 'status': txn['status_code']})}"


def _finish(txn: dict, code: str, mode: str, **fields):
    txn = store.set_status(txn["txn_id"], code, callback_mode=mode, **fields)
    delay = float(current_app.config.get("SANDBOX_CALLBACK_DELAY_SECONDS", 3))
    store.send_callback(txn, _secret(), mode=mode, delay=delay)
    return redirect(_back(txn))


@bp.get("/pay")
def pay():
    params = request.args.to_dict()
    if any(k not in params for k in REQUIRED) or not verify_params(_secret(), params):
        abort(400, description=_("This payment request is not signed by the merchant."))
    if params["method"] not in ("fpx", "card") or not all(
            params[k].startswith(("http://", "https://")) for k in ("callback_url", "return_url")):
        abort(400)
    txn = store.open_transaction(params)
    return _page(txn)


def _page(txn: dict, error: str | None = None, status: int = 200):
    return render_template("payments/sandbox/pay.html", txn=txn, banks=FPX_BANKS, outcomes=FPX_OUTCOMES,
                           status_text=store.STATUS_TEXT, modes=store.CALLBACK_MODES, error=error,
                           corporate=BANKS_BY_CODE.get(txn.get("bank_code") or "")), status


@bp.post("/pay/<txn_id>")
def submit(txn_id: str):
    txn = store.get(txn_id)
    if txn is None:
        abort(404)
    if txn["status_code"] != "created":
        return redirect(_back(txn))
    mode = request.form.get("callback_mode", "normal")
    if mode not in store.CALLBACK_MODES:
        mode = "normal"
    if request.form.get("action") == "cancel":
        return _finish(txn, "1C", mode)
    if txn["method"] == "fpx":
        bank = request.form.get("bank_code") or txn.get("bank_code") or ""
        if bank not in BANKS_BY_CODE:
            return _page(txn, _("Choose your bank."), 400)
        code = request.form.get("outcome", "00")
        if code not in FPX_OUTCOMES:
            code = "00"
        return _finish(txn, code, mode, bank_code=bank)
    number = "".join(ch for ch in request.form.get("card_number", "") if ch in "0123456789")
    if not luhn_ok(number) or card_brand(number) is None:
        return _page(txn, _("This is not a valid Visa or Mastercard number."), 400)
    if not card_expiry_ok(request.form.get("expiry", ""), to_local(utcnow()).date()):
        return _page(txn, _("Enter the card's expiry date as MM/YY; the card must not have expired."), 400)
    cvv = request.form.get("cvv", "").strip()
    if not (cvv.isascii() and cvv.isdigit() and len(cvv) == 3):
        return _page(txn, _("Enter the 3-digit CVV printed on the back of the card."), 400)
    brand, last4 = card_brand(number), number[-4:]
    behaviour = TEST_CARDS.get(number, "unknown")
    if behaviour == "retry" and txn["attempts"] == 0:
        store.set_status(txn_id, "created", attempts=1)
        return _page(store.get(txn_id), _("Issuer unavailable (91). Please try again."), 402)
    code = {"approve": "00", "retry": "00", "decline": "05", "pending": "09"}.get(behaviour, "05")
    return _finish(txn, code, mode, card_brand=brand, card_last4=last4, attempts=txn["attempts"] + 1)


@bp.route("/txn/<txn_id>", methods=["GET", "POST"])
def approver(txn_id: str):
    """The bank's side of a pending payment: the corporate approver (or issuer) decides."""
    txn = store.get(txn_id)
    if txn is None:
        abort(404)
    if request.method == "POST" and txn["status_code"] in ("09", "99"):
        code = "00" if request.form.get("decision") == "approve" else "05"
        txn = store.set_status(txn_id, code)
        store.send_callback(txn, _secret(), mode=txn["callback_mode"],
                            delay=float(current_app.config.get("SANDBOX_CALLBACK_DELAY_SECONDS", 3)))
        return redirect(url_for(".approver", txn_id=txn_id))
    return render_template("payments/sandbox/txn.html", txn=txn, status_text=store.STATUS_TEXT)


@bp.get("/api/requery")
def api_requery():
    body, signature = store.requery_answer(request.args.to_dict(), _secret())
    if not signature:
        return Response(body, status=401, mimetype="application/json")
    return Response(body, mimetype="application/json", headers={"X-Sandbox-Signature": signature})


@bp.get("/api/collected")
def api_collected():
    body, signature = store.collected_answer(request.args.to_dict(), _secret())
    if not signature:
        return Response(body, status=401, mimetype="application/json")
    return Response(body, mimetype="application/json", headers={"X-Sandbox-Signature": signature})


@bp.post("/api/refund")
@csrf.exempt
def api_refund():
    body, signature = store.refund_answer(request.form.to_dict(), _secret())
    if not signature:
        return Response(body, status=401, mimetype="application/json")
    return Response(body, mimetype="application/json", headers={"X-Sandbox-Signature": signature})


@bp.post("/api/resolve")
@csrf.exempt
def api_resolve():
    """Settle a transaction as the bank would (tests, tools): signed {merchant_ref, status_code, mode}."""
    params = request.form.to_dict()
    if not verify_params(_secret(), params):
        abort(401)
    with store.engine().connect() as c:
        row = c.execute(select(store.txn_table).where(store.txn_table.c.merchant_ref == params.get("merchant_ref"))
                        ).mappings().first()
    if row is None:
        abort(404)
    mode = params.get("mode", "normal")
    txn = store.set_status(row["txn_id"], params.get("status_code", "00"), callback_mode=mode)
    store.send_callback(txn, _secret(), mode=mode, delay=float(params.get("delay", 0)))
    body = store.message(txn)
    return Response(body, mimetype="application/json", headers={"X-Sandbox-Signature": sign(_secret(), body)})


@bp.get("/api/banks")
def api_banks():
    return Response(json.dumps([{"code": b.code, "name": b.name, "corporate": b.corporate} for b in FPX_BANKS]),
                    mimetype="application/json")
