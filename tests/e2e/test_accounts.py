"""Browser tests of accounts (the first one is the smallest: copy it to start your own)."""

import re

import pytest
from sqlalchemy import select

from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage

pytestmark = pytest.mark.e2e

PASSWORD = "Peta-Ukur-Tanah-2026"


def test_home_page_loads_in_malay(live_server, page):
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ms"
    assert page.get_by_role("heading", level=1).is_visible()


def _mailed_link(live_server, to: str) -> str:
    with live_server.app.app_context():
        body = db.session.scalars(select(OutboxMessage.body_text).where(OutboxMessage.to_address == to)
                                  .order_by(OutboxMessage.id.desc())).first()
        db.session.remove()
    return re.search(r"(http://127\.0\.0\.1:\d+/\S+)", body).group(1)


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
    page.wait_for_url("**/account/register/sent")
    assert "Siti@UkurJaya.my" in page.locator("[data-testid=register-sent]").inner_text()
    page.goto(_mailed_link(live_server, "siti@ukurjaya.my"))  # the link in the email
    assert "siti@ukurjaya.my" in page.locator("main").inner_text()
    page.click("[data-testid=confirm-registration]")
    page.wait_for_url("**/account/")
    assert page.locator(".flash-success").first.is_visible()  # the welcome is shown
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


def test_a_customer_edits_their_details(live_server, page, tmp_path):
    from tests.factories import PASSWORD as FACTORY_PASSWORD
    from tests.factories import make_user

    with live_server.app.app_context():
        email = make_user(full_name="Siti Aminah").email
        db.session.remove()
    page.goto(live_server.url + "/account/login")
    page.fill("#login", email)
    page.fill("#password", FACTORY_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/account/")
    page.click("[data-testid=edit-profile]")
    page.fill("#phone", "nombor saya")
    page.click("[data-testid=profile-save]")
    page.locator("#phone-error").wait_for()  # the form comes back from the server: wait for it, not the old page
    assert page.locator("#phone-error").is_visible()
    page.screenshot(path=str(tmp_path / "edit-profile-error.png"), full_page=True)
    page.fill("#phone", "012-345 6789")
    page.fill("#address", "No. 5, Jalan Ukur\n50578 Kuala Lumpur")
    page.click("[data-testid=profile-save]")
    page.wait_for_url("**/account/")
    assert page.locator("[data-testid=profile-phone]").inner_text() == "+60 12-345 6789"
    assert "50578 Kuala Lumpur" in page.locator("[data-testid=profile-address]").inner_text()
    page.screenshot(path=str(tmp_path / "profile.png"), full_page=True)
