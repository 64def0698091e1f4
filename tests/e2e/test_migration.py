"""Browser test of issue 15: a legacy customer signs in with their old MyKad, confirms the email,
follows the link from the mail (received by a real SMTP server on loopback), updates their details
and sees the old balance and orders."""

import re
import time

import pytest
from aiosmtpd.controller import Controller

from ebiz.extensions import db
from ebiz.migration import importer
from ebiz.migration.sample import DEMO_SKUS, write_sample
from tests.factories import make_product
from tests.notifications.helpers import Inbox
from tests.services import free_port

pytestmark = pytest.mark.e2e


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
