"""Browser test of the reconciliation console: a payment whose bank callback was dropped shows up as
overdue, and an administrator's "Requery now" settles it."""

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from ebiz.accounts.models import Role
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.payments.models import PaymentIntent
from ebiz.payments.sandbox import store
from tests.factories import PASSWORD, make_user
from tests.payments.helpers import bank_answers, topup_intent

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway_db(live_server, tmp_path):
    app = live_server.app
    old = app.config["SANDBOX_DATABASE_URL"]
    app.config.update(SANDBOX_DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}", SANDBOX_CALLBACK_DELAY_SECONDS=0)
    yield
    with app.app_context():
        store.dispose_all()
    app.config["SANDBOX_DATABASE_URL"] = old


def test_a_dropped_callback_shows_up_and_requery_now_settles_it(live_server, page, gateway_db):
    app = live_server.app
    with app.app_context(), app.test_request_context():
        customer = make_user(tier="primary")
        intent = topup_intent(customer, 4500)
        bank_answers(app, intent, "00")  # the bank took the money; its callback was dropped
        intent = db.session.get(PaymentIntent, intent.id)
        intent.created_at = utcnow() - timedelta(minutes=30)
        admin = make_user(role=Role.ADMIN)
        db.session.commit()
        reference, email, secret = intent.reference, admin.email, admin.totp_secret

    page.goto(live_server.url + "/account/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    page.goto(live_server.url + "/payments/staff/reconcile")
    row = page.locator(f"[data-testid=reconcile-overdue] tr[data-reference='{reference}']")
    assert row.count() == 1
    assert page.locator("[data-testid=settlement-result]").get_attribute("data-matches") == "False"
    row.get_by_test_id("requery-now").click()
    page.wait_for_url("**/payments/staff/reconcile")
    assert page.locator(f"[data-testid=reconcile-overdue] tr[data-reference='{reference}']").count() == 0
    assert reference in page.locator(".flash, [role=status], [role=alert]").first.inner_text()
    assert page.locator("[data-testid=settlement-result]").get_attribute("data-matches") == "True"
    with app.app_context():
        assert db.session.scalar(select(PaymentIntent.status).where(PaymentIntent.reference == reference)) \
            == "succeeded"
