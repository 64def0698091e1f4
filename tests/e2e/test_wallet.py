"""Browser test of the wallet: top up by FPX through the sandbox bank's page, see the new balance."""

import pytest

from ebiz.extensions import db
from ebiz.payments.sandbox import store
from tests.factories import PASSWORD, make_user

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


def test_topup_by_fpx_through_the_sandbox_bank_page(live_server, page, gateway_db):
    with live_server.app.app_context():
        user = make_user(tier="primary", email="aminah@example.my")
        db.session.commit()
        assert user.id
    page.goto(live_server.url + "/account/login")
    page.fill("#login", "aminah@example.my")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/account/**")

    page.goto(live_server.url + "/wallet/")
    assert page.locator("[data-testid=wallet-balance]").inner_text() == "RM 0.00"
    page.click("[data-testid=topup-link]")
    page.fill("#amount", "75.50")
    page.check("input[name=method][value=fpx]")
    page.select_option("#bank_code", "BIMB0340")
    page.click("[data-testid=topup-submit]")

    # The sandbox bank's page: the bank chosen in eBiz is preselected; the customer pays.
    page.wait_for_url("**/sandbox-gateway/pay?**")
    assert page.locator("#bank_code").input_value() == "BIMB0340"
    assert "MYR 75.50" in page.locator(".sbx-amount").inner_text()
    page.select_option("#outcome", "00")
    page.click("[data-testid=sbx-pay]")

    page.wait_for_url("**/payments/EBZ-PAY-*")
    status = page.locator("[data-testid=payment-status]")
    assert status.get_attribute("data-status") == "succeeded"
    assert page.locator("[data-testid=receipt-link]").is_visible()
    page.click("[data-testid=continue-link]")
    page.wait_for_url("**/wallet/")
    assert page.locator("[data-testid=wallet-balance]").inner_text() == "RM 75.50"
