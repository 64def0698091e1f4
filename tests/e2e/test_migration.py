"""Browser tests of issue 15: a legacy customer signs in with their old MyKad, confirms the email,
follows the link from the mail (received by a real SMTP server on loopback), updates their details
and sees the old balance and orders; a customer whose old email is dead gets a support ticket's
reference, and an administrator corrects the email on that ticket (issue 16 §3)."""

import re
import time
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ebiz.accounts.models import Role
from ebiz.extensions import db
from ebiz.migration import importer
from ebiz.migration.models import LegacyCustomer
from ebiz.migration.sample import DEMO_SKUS, write_sample
from ebiz.support.models import Ticket
from tests.factories import PASSWORD, make_product, make_user
from tests.notifications.helpers import Inbox
from tests.services import free_port

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def smtp_live(live_server):
    app = live_server.app
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    old = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    controller.stop()
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = old


def test_legacy_customer_migrates_by_the_emailed_link(live_server, page, smtp_live, tmp_path):
    with live_server.app.app_context():
        for sku in DEMO_SKUS:
            make_product(sku=sku, slug=sku.lower(), commit=False)
        db.session.commit()
        write_sample(tmp_path / "export", customers=20)
        assert not importer.import_export(tmp_path / "export").control
        db.session.remove()
    page.goto(live_server.url + "/account/login")
    page.fill("#login", "850312-14-5566")
    page.fill("#password", "my-old-password")
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/migration/ask/**")
    assert page.locator("[data-testid=masked-email]").inner_text() == "a***n@e***.my"
    page.click("[data-testid=email-yes]")
    assert "a***n@e***.my" in page.locator("[data-testid=link-sent]").inner_text()

    for _ in range(50):
        if smtp_live.messages:
            break
        time.sleep(0.1)
    rcpts, message = smtp_live.messages[-1]
    assert rcpts == ["aminah.hassan@example.my"]
    link = re.search(r"http://\S+/migration/link/\S+", message.get_body(("plain",)).get_content()).group(0)

    page.goto(link)
    assert page.input_value("#full_name") == "Aminah binti Hassan"
    page.fill("#phone", "+60 13-999 8888")
    page.fill("#address", "20 Jalan Baru, 50480 Kuala Lumpur")
    page.fill("#password", "Peta-Lama-Tanah-Rata-77")
    page.fill("#confirm", "Peta-Lama-Tanah-Rata-77")
    page.check("#accept_terms")
    page.screenshot(path=str(tmp_path / "migration-form.png"), full_page=True)
    page.click("[data-testid=migrate-submit]")
    page.wait_for_url("**/migration/welcome")
    assert page.locator("[data-testid=legacy-balance]").inner_text() == "RM 250.00"
    assert page.locator("[data-testid=wallet-balance]").inner_text() == "RM 250.00"

    page.goto(live_server.url + "/orders/")
    rows = page.locator("[data-testid=legacy-order-row]")
    assert rows.count() == 2
    assert "OLD-000000" in rows.first.inner_text()
    assert "× " in rows.first.inner_text() and "built-in" not in rows.first.inner_text()
    page.goto(live_server.url + "/wallet/")
    assert page.locator("[data-testid=wallet-balance]").inner_text() == "RM 250.00"

    page.goto(link)  # the link is spent
    assert page.locator("[data-testid=link-problem]").is_visible()


def test_dead_email_becomes_a_ticket_and_an_administrator_corrects_it_there(live_server, page, tmp_path):
    with live_server.app.app_context():
        for sku in DEMO_SKUS:
            make_product(sku=sku, slug=sku.lower(), commit=False)
        db.session.commit()
        write_sample(tmp_path / "export", customers=20)
        assert not importer.import_export(tmp_path / "export").control
        admin = make_user(role=Role.ADMIN, email="admin@example.my")
        admin_id, secret = admin.id, admin.totp_secret
        db.session.remove()
    base = live_server.url
    SHOTS.mkdir(exist_ok=True)

    # The customer: the old email is no longer in use.
    page.goto(base + "/account/login")
    page.fill("#login", "850312-14-5566")
    page.fill("#password", "my-old-password")
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/migration/ask/**")
    page.click("[data-testid=email-no]")
    page.wait_for_load_state()
    with live_server.app.app_context():
        ref = db.session.scalar(select(Ticket.reference))
        db.session.remove()
    assert ref and ref in page.locator("main").inner_text()  # to quote on the phone or at a counter
    page.screenshot(path=str(SHOTS / "migration-no-email-ticket.png"), full_page=True)
    page.context.clear_cookies()

    # The administrator takes the ticket and corrects the email from it.
    page.goto(base + "/account/login")
    page.fill("input[name=login]", "admin@example.my")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    page.goto(f"{base}/support/desk/t/{ref}")
    assert "L-100001" in page.get_by_test_id("linked").inner_text()
    assert page.get_by_test_id("no-email").is_visible()  # replies are not mailed to the dead address
    page.select_option("#assignee", str(admin_id))
    page.locator("form[action$='/assign'] button[type=submit]").click()
    page.wait_for_load_state()
    page.get_by_test_id("legacy-action").click()
    page.wait_for_load_state()
    assert page.input_value("#ticket") == ref
    page.fill("#email", "aminah.baru@example.my")
    page.fill("#reason", "MyKad seen at the HQ counter")
    page.screenshot(path=str(SHOTS / "migration-correct-email.png"), full_page=True)
    page.get_by_test_id("correct-email").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("legacy-email").inner_text() == "a***u@e***.my"
    with live_server.app.app_context():
        row = db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == "L-100001"))
        assert row.email == "aminah.baru@example.my" and row.links_sent == 1
        db.session.remove()

    page.goto(f"{base}/support/desk/t/{ref}")
    assert "The email of old-system account L-100001 was corrected" in page.locator("main").inner_text()
    page.screenshot(path=str(SHOTS / "migration-ticket-after.png"), full_page=True)
