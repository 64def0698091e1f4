"""What several browser tests share: the phone's viewport and signing in through the login page."""

import pyotp

from tests.factories import PASSWORD

PHONE = {"width": 390, "height": 844}


def sign_in(page, base, email, totp_secret=None):
    page.goto(base + "/account/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()
    if totp_secret:
        page.fill("input[name=code]", pyotp.TOTP(totp_secret).now())
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
    assert "/account/login" not in page.url
