"""Browser tests of accounts (the first one is the smallest: copy it to start your own)."""

import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "Peta-Ukur-Tanah-2026"


def test_home_page_loads_in_malay(live_server, page):
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ms"
    assert page.get_by_role("heading", level=1).is_visible()


def test_register_a_company_sign_out_sign_in_by_email_and_switch_language(live_server, page):
    page.goto(live_server.url + "/account/register")
    # The form adapts to the kind chosen (accounts.js): company fields appear, MyKad of an individual hides.
    assert page.locator("#mykad").is_visible()
    assert not page.locator("#company_reg_no").is_visible()
    page.locator("input[name=kind][value=company]").check()
    assert page.locator("#company_reg_no").is_visible()
    assert not page.locator("#mykad").is_visible()
    page.fill("#company_name", "Ukur Jaya Sdn. Bhd.")
    page.fill("#company_reg_no", "2020-01-054321")
    page.fill("#rep_mykad", "880808-08-5566")
    page.fill("#full_name", "Siti Nurhaliza binti Omar")
    page.fill("#email", "Siti@UkurJaya.my")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("[data-testid=register-submit]")
    page.wait_for_url("**/account/")
    assert page.get_by_role("heading", name="Ukur Jaya Sdn. Bhd.").is_visible()
    assert page.locator("[data-testid=tier] .badge").inner_text().strip()

    page.locator("form[action$='/account/logout'] button").click()
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/account/")
    assert "/account/login" in page.url  # signed out

    page.fill("#login", "siti@ukurjaya.my")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/account/")
    assert page.locator("html").get_attribute("lang") == "ms"

    page.click("[data-testid=lang-en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="My account").is_visible()
    assert page.get_by_text("What Primary allows").is_visible()
    # The choice persists on the next page.
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("[data-testid=lang-ms]").is_visible()
