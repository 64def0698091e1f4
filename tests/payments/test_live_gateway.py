"""The sandbox gateway as its own server: payments, callbacks and requeries really cross HTTP.

eBiz is served by werkzeug on loopback (on the test database), the sandbox gateway by a
second server with its own database; a customer signs in and pays with `requests`.
"""

import time

import pytest
import requests
from sqlalchemy import select

from ebiz.extensions import db
from ebiz.payments.models import IntentStatus, PaymentEvent, PaymentIntent
from ebiz.payments.sandbox import make_sandbox_app, serve_in_thread, store
from ebiz.wallet import service as wallet
from tests.factories import PASSWORD, make_user

from .helpers import csrf_from


@pytest.fixture
def servers(app, tmp_path):
    sandbox = make_sandbox_app(SANDBOX_GATEWAY_SECRET=app.config["SANDBOX_GATEWAY_SECRET"],
                               SANDBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}",
                               SANDBOX_CALLBACK_DELAY_SECONDS=0.5)
    bank = serve_in_thread(sandbox)
    ebiz = serve_in_thread(app)
    app.config["SANDBOX_GATEWAY_URL"] = bank.url
    app.config["RATELIMIT_ENABLED"] = False
    yield ebiz.url, bank.url
    app.config["SANDBOX_GATEWAY_URL"] = ""
    app.config["RATELIMIT_ENABLED"] = True
    ebiz.stop()
    bank.stop()
    with sandbox.app_context():
        store.dispose_all()


def _customer_session(base: str, user) -> requests.Session:
    s = requests.Session()
    s.cookies.set("lang", "en")
    page = s.get(f"{base}/account/login").text
    r = s.post(f"{base}/account/login", data={"csrf_token": csrf_from(page), "login": user.email,
                                               "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 302, r.text[:500]
    return s


def _pay_at_bank(s: requests.Session, base: str, amount: str, mode: str, outcome: str = "00"):
    page = s.get(f"{base}/wallet/topup").text
    nonce = page.split('name="nonce" type="hidden" value="')[1].split('"')[0]
    r = s.post(f"{base}/wallet/topup", data={"csrf_token": csrf_from(page), "amount": amount, "method": "fpx",
                                             "bank_code": "BCBB0235", "nonce": nonce},
               allow_redirects=False)
    assert r.status_code == 302, r.text[:500]
    bank_page = s.get(r.headers["Location"])
    assert bank_page.status_code == 200 and "CIMB Clicks" in bank_page.text
    action = bank_page.text.split('form method="post" action="')[1].split('"')[0]
    bank_base = r.headers["Location"].split("/sandbox-gateway")[0]
    return s.post(bank_base + action, data={"csrf_token": csrf_from(bank_page.text), "action": "pay",
                                            "bank_code": "BCBB0235", "outcome": outcome, "callback_mode": mode},
                  allow_redirects=False)


def _wait_status(reference: str, status: str, timeout: float = 15.0) -> PaymentIntent:
    end = time.time() + timeout
    while time.time() < end:
        db.session.rollback()
        intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == reference))
        if intent is not None and intent.status == status:
            return intent
        time.sleep(0.1)
    raise AssertionError(f"{reference} did not become {status}")


def _sources(intent):
    db.session.rollback()
    return db.session.execute(select(PaymentEvent.source, PaymentEvent.outcome)
                              .where(PaymentEvent.intent_id == intent.id).order_by(PaymentEvent.id)).all()


def test_signed_callback_crosses_http_and_settles_without_the_browser(app, servers):
    base, _bank = servers
    user = make_user(tier="primary")
    s = _customer_session(base, user)
    r = _pay_at_bank(s, base, "30.00", mode="duplicate")
    assert r.status_code == 302 and r.headers["Location"].startswith(base + "/payments/")
    reference = r.headers["Location"].split("/payments/")[1].split("?")[0]
    # The customer never comes back; the bank's callback (sent twice) settles it.
    intent = _wait_status(reference, IntentStatus.SUCCEEDED)
    deadline = time.time() + 10
    while len(_sources(intent)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert _sources(intent) == [("callback", "applied"), ("callback", "duplicate")]
    assert wallet.balance(user) == 3000 and wallet.verify() == []


def test_dropped_callback_return_page_requeries_the_bank_over_http(app, servers):
    base, _bank = servers
    user = make_user(tier="primary")
    s = _customer_session(base, user)
    r = _pay_at_bank(s, base, "12.00", mode="drop")
    page = s.get(r.headers["Location"]).text
    assert 'data-status="succeeded"' in page
    reference = r.headers["Location"].split("/payments/")[1].split("?")[0]
    intent = _wait_status(reference, IntentStatus.SUCCEEDED, timeout=1)
    assert _sources(intent) == [("return", "applied")]
    assert wallet.balance(user) == 1200


def test_delayed_callback_after_the_return_page_is_a_duplicate(app, servers):
    base, _bank = servers
    user = make_user(tier="primary")
    s = _customer_session(base, user)
    r = _pay_at_bank(s, base, "15.00", mode="delay")
    assert 'data-status="succeeded"' in s.get(r.headers["Location"]).text
    reference = r.headers["Location"].split("/payments/")[1].split("?")[0]
    intent = _wait_status(reference, IntentStatus.SUCCEEDED, timeout=1)
    deadline = time.time() + 10
    while len(_sources(intent)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert _sources(intent) == [("return", "applied"), ("callback", "duplicate")]
    assert wallet.balance(user) == 1500
