"""Browser test of the company representative change on its support ticket (issues 13 §1, 16 §3): an
administrator takes the company's ticket in the support desk, follows the ticket's link to the
representative page and makes the change; the ticket then says what was done."""

from pathlib import Path

import pyotp
import pytest

from ebiz.accounts.models import Kind, Role
from tests.factories import PASSWORD, make_user
from tests.support.helpers import open_ticket

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_admin_changes_a_representative_from_the_companys_ticket(live_server, page):
    with live_server.app.app_context():
        company = make_user(kind=Kind.COMPANY, company_reg_no="201901012345", company_name="Ukur Jaya Sdn. Bhd.",
                            full_name="Siti Aminah", rep_mykad="850615105523", email="ukur@example.my")
        admin = make_user(role=Role.ADMIN, email="admin@example.my")
        ticket = open_ticket(company, category="counters", subject="Our representative left",
                             body="Siti left the company; Lim Ah Kow represents us now.")
        ref, admin_id, secret = ticket.reference, admin.id, admin.totp_secret

    base = live_server.url
    page.goto(base + "/account/login")
    page.fill("input[name=login]", "admin@example.my")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    # The administrator takes the ticket (administrators are among the assignees).
    page.goto(f"{base}/support/desk/t/{ref}")
    page.select_option("#assignee", str(admin_id))
    page.locator("form[action$='/assign'] button[type=submit]").click()
    page.wait_for_load_state()
    page.get_by_test_id("representative-action").click()
    page.wait_for_load_state()
    assert page.input_value("#ticket") == ref
    page.fill("#full_name", "Lim Ah Kow")
    page.fill("#mykad", "900101-14-5678")
    page.fill("#reason", "Siti left the company")
    page.get_by_test_id("change-representative").click()
    page.wait_for_load_state()
    assert "Lim Ah Kow" in page.get_by_test_id("current-representative").inner_text()
    assert ref in page.locator("main").inner_text()  # the history names the ticket
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "representative-changed.png"), full_page=True)

    # The ticket says what was done.
    page.goto(f"{base}/support/desk/t/{ref}")
    assert "Company representative changed to Lim Ah Kow" in page.locator("main").inner_text()
    page.screenshot(path=str(SHOTS / "representative-ticket.png"), full_page=True)
