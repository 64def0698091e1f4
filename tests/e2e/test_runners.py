"""Browser test of issue 13 §4: a company creates a runner OTP; counter staff (TOTP) open a runner
session with it, sell a printed map from the company wallet and hand over a ready order; the company
sees both in its OTP history."""

import secrets
from pathlib import Path

import pytest

from ebiz.accounts.models import Kind, Role, Tier
from ebiz.extensions import db
from ebiz.orders import service as orders
from ebiz.orders.models import LineStatus
from tests.e2e.helpers import sign_in
from tests.factories import make_counter, make_user
from tests.orders.helpers import fund, printed_product

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_runner_otp_from_company_to_counter_and_back(live_server, page, _browser):
    with live_server.app.app_context():
        counter = make_counter("SGR", is_hq=False)
        staff = make_user(role=Role.COUNTER, counter=counter, email="sgr.staff@example.my")
        company = make_user(kind=Kind.COMPANY, tier=Tier.PRIMARY, company_reg_no="201901012345",
                            company_name="Ukur Tepat Sdn. Bhd.", email="ukur@example.my")
        fund(company, 20000)
        big_map = printed_product(price_sen=2500, stock=3)
        ready_map = printed_product(price_sen=1500, stock=3)
        orders.add_to_cart(company, ready_map.id)
        order = orders.checkout(company, checkout_key=secrets.token_hex(8), accepted={}, collect_counter_id=counter.id)
        orders.pay(company, order, method="wallet", idempotency_key=secrets.token_hex(8))
        orders.mark_line(order.lines[0].id, LineStatus.READY, actor=make_user(role=Role.ADMIN))
        db.session.commit()
        ready_ref, map_value = order.reference, f"{big_map.id}:"
        staff_email, staff_secret = staff.email, staff.totp_secret

    # The company creates an OTP for its runner: the code is shown once.
    sign_in(page, live_server.url, "ukur@example.my")
    page.goto(live_server.url + "/company/runners")
    page.fill("#runner_name", "Ahmad bin Ali")
    page.fill("#runner_id_no", "920202-14-5679")
    page.check("#may_buy")
    page.check("#may_use_wallet")
    page.fill("#cap", "50.00")
    page.get_by_test_id("create-otp").click()
    code = page.get_by_test_id("otp-code").inner_text().strip()
    assert len(code) == 8 and code.isdigit()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "runners-company-otp.png"), full_page=True)

    # Counter staff (with TOTP) open a runner session with it.
    ctx = _browser.new_context(locale="ms-MY", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    desk = ctx.new_page()
    try:
        sign_in(desk, live_server.url, staff_email, staff_secret)
        desk.goto(live_server.url + "/counter/runners")
        desk.fill("#company_reg_no", "2019-01-012345")
        desk.fill("#code", code)
        desk.fill("#runner_id_no", "920202145679")
        desk.get_by_test_id("open-runner-session").click()
        desk.wait_for_url("**/counter/runners/EBZ-RUN-*")
        assert "Ukur Tepat Sdn. Bhd." in desk.get_by_test_id("runner-banner").inner_text()
        # Sell a printed map from the company wallet.
        desk.select_option("#item", map_value)
        desk.select_option("#method", "wallet")
        desk.get_by_test_id("sell").click()
        desk.wait_for_load_state()
        assert "RM 25.00" in desk.locator(".flash-success").inner_text()
        # Hand over the ready order.
        desk.locator("[data-testid^=hand-over-]").first.click()
        desk.wait_for_load_state()
        assert desk.locator("[data-testid=ready-lines]").count() == 0
        assert desk.get_by_test_id("runner-banner").is_visible()  # still acting for the company
        desk.screenshot(path=str(SHOTS / "runners-counter-session.png"), full_page=True)
        # The day-end report has the sale, and agrees with the ledger.
        desk.goto(live_server.url + "/counter/day-end")
        assert "RM 25.00" in desk.get_by_test_id("day-end-total").inner_text()
        assert desk.get_by_test_id("day-end-agrees").is_visible()
        desk.screenshot(path=str(SHOTS / "runners-day-end.png"), full_page=True)
    finally:
        ctx.close()

    # The company sees both in the OTP's history.
    page.goto(live_server.url + "/company/runners")
    history = page.get_by_test_id("otp-history").inner_text()
    # The ready order, and the map bought (it left with the runner), both show as collected.
    collected = " ".join(page.get_by_test_id("otp-collected").all_inner_texts())
    assert ready_ref in collected
    assert "RM 25.00" in page.get_by_test_id("otp-bought").inner_text()
    assert "Kaunter SGR" in history
    page.screenshot(path=str(SHOTS / "runners-company-history.png"), full_page=True)
