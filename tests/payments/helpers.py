"""Helpers shared by the payments and wallet tests."""

import re

from ebiz.accounts.decorators import MFA_SESSION_KEY

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def sign_in(client, user) -> None:
    """Sign `user` in on this test client (and mark staff TOTP as done for the session), in English."""
    client.set_cookie("lang", "en")
    with client.session_transaction() as s:
        s["_user_id"] = user.get_id()
        s["_fresh"] = True
        if user.is_staff:
            s[MFA_SESSION_KEY] = user.get_id()


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def csrf(client, url: str = "/") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def topup_intent(user, amount_sen=2000, *, method="fpx", bank_code="MB2U0227", key=None):
    """A pending online top-up intent for `user` (committed)."""
    import secrets

    from ebiz.extensions import db
    from ebiz.wallet import service as wallet

    intent = wallet.start_topup(user, amount_sen, method=method, bank_code=bank_code,
                                idempotency_key=key or secrets.token_hex(8))
    db.session.commit()
    return intent


def open_at_sandbox(app, intent) -> dict:
    """What the customer's visit to the sandbox page does: the gateway opens its transaction."""
    from urllib.parse import parse_qsl, urlsplit

    from sqlalchemy import select

    from ebiz.payments import service as payments
    from ebiz.payments.sandbox import store

    with store.engine().connect() as c:
        row = c.execute(select(store.txn_table).where(store.txn_table.c.merchant_ref == intent.reference)
                        ).mappings().first()
    if row is not None:
        return dict(row)
    with app.test_request_context():
        url = payments.start_online(intent)
    return store.open_transaction(dict(parse_qsl(urlsplit(url).query)))


def bank_answers(app, intent, code: str) -> tuple[bytes, dict]:
    """The bank settles the transaction with `code`; returns the signed callback (body, headers)."""
    from ebiz.payments.sandbox import store
    from ebiz.payments.signing import sign

    txn = open_at_sandbox(app, intent)
    txn = store.set_status(txn["txn_id"], code, callback_mode="drop")
    body = store.message(txn)
    return body, {"X-Sandbox-Signature": sign(app.config["SANDBOX_GATEWAY_SECRET"], body),
                  "Content-Type": "application/json"}


def post_callback(client, body: bytes, headers: dict):
    return client.post("/payments/callback/sandbox", data=body, headers=headers)


def go_to_gateway(client, url: str):
    """Follow the eBiz -> gateway redirect: returns the sandbox page's HTML."""
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def submit_gateway(client, html: str, **fields):
    """Submit the sandbox payment form; returns the response (a redirect back, or the page with an error)."""
    action = html.split('form method="post" action="')[1].split('"')[0]
    data = {"csrf_token": csrf_from(html), "action": "pay", "callback_mode": "drop", **fields}
    return client.post(action, data=data)


def fresh(intent):
    """The intent as the database has it now."""
    from ebiz.extensions import db
    from ebiz.payments.models import PaymentIntent

    db.session.expire_all()
    return db.session.get(PaymentIntent, intent.id)


def start_topup(app, client, user, amount=2000, **kw):
    """A pending online top-up of `user`, its gateway URL, and `client` signed in as them."""
    from ebiz.payments import service as payments

    intent = topup_intent(user, amount, **kw)
    with app.test_request_context():
        url = payments.start_online(intent)
    sign_in(client, user)
    return intent, url
