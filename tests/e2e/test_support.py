"""Browser test of the support desk: a customer opens a ticket about a payment from its page, an agent
replies, requeries it with the bank and resolves it, and the customer rates the help."""

import pytest
from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.extensions import db
from ebiz.payments.models import IntentStatus, PaymentIntent
from ebiz.payments.sandbox import store
from ebiz.support import help as helpdesk
from ebiz.support.models import Ticket
from tests.e2e.helpers import sign_in
from tests.factories import make_user

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


def test_payment_ticket_from_the_payment_page_to_the_rating(live_server, page, gateway_db, _browser, tmp_path):
    app, base = live_server.app, live_server.url
    with app.app_context():
        customer = make_user(tier=Tier.PRIMARY, email="aminah@example.my")
        agent = make_user(role=Role.SUPPORT, email="ejen@ebiz.example.my")
        helpdesk.seed_articles()
        db.session.commit()
        agent_secret, agent_id = agent.totp_secret, agent.id
        assert customer.id

    # The customer tops up; the bank says "pending" and the callback is lost.
    sign_in(page, base, "aminah@example.my")
    page.goto(base + "/wallet/")
    page.click("[data-testid=topup-link]")
    page.fill("#amount", "50.00")
    page.check("input[name=method][value=fpx]")
    page.select_option("#bank_code", "MBB0228")
    page.click("[data-testid=topup-submit]")
    page.wait_for_url("**/sandbox-gateway/pay?**")
    page.select_option("#outcome", "09")
    page.select_option("select[name=callback_mode]", "drop")
    page.click("[data-testid=sbx-pay]")
    page.wait_for_url("**/payments/EBZ-PAY-*")
    assert page.get_by_test_id("payment-status").get_attribute("data-status") == "pending"

    # From the payment's page to a ticket about it; help articles are suggested as the subject is typed.
    page.get_by_test_id("payment-help").click()
    page.wait_for_url("**/support/new?**")
    page.locator("#subject").press_sequentially("bayaran belum dibayar", delay=20)
    suggestions = page.get_by_test_id("suggestions")
    suggestions.wait_for(state="visible")
    assert "Bank sudah tolak wang" in suggestions.inner_text()
    page.fill("#body", "Bank saya sudah tolak RM 50 tetapi dompet belum dikreditkan.")
    page.locator("[data-testid=ticket-form] button[type=submit]").click()
    page.wait_for_url("**/support/t/SR-*")
    ref = page.get_by_test_id("ticket-ref").inner_text()
    page.screenshot(path=str(tmp_path / "customer-ticket.png"), full_page=True)

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == ref))
        intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == ticket.linked_ref))
        assert ticket.linked_kind == "payment" and intent.user_id == customer.id
        store.set_status(store.get(intent.gateway_txn_id)["txn_id"], "00")  # the bank pays; no callback again
        intent_ref = intent.reference

    # The agent: the queue, takes the ticket, requeries the payment, replies and resolves.
    ctx = _browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    desk = ctx.new_page()
    try:
        sign_in(desk, base, "ejen@ebiz.example.my", agent_secret)
        desk.goto(base + "/support/desk")
        desk.get_by_test_id("queue").get_by_role("link", name=ref).click()
        desk.wait_for_url(f"**/support/desk/t/{ref}")
        assert desk.get_by_test_id("linked").inner_text() == intent_ref
        desk.select_option("#assignee", str(agent_id))
        with desk.expect_navigation():
            desk.locator(f"form[action='/support/desk/t/{ref}/assign'] button").click()
        assert desk.locator("[data-testid=requery-form] #payment_ref").input_value() == intent_ref
        with desk.expect_navigation():
            desk.locator("[data-testid=requery-form] button").click()
        assert "; status succeeded." in desk.locator("main").inner_text(), desk.locator("main").inner_text()[:3000]
        desk.fill("[data-testid=agent-reply] #body", "Bank telah mengesahkan bayaran; dompet anda sudah dikreditkan.")
        desk.select_option("[data-testid=agent-reply] #next_status", "resolved")
        with desk.expect_navigation():
            desk.locator("[data-testid=agent-reply] button[type=submit]").click()
        assert desk.get_by_test_id("ticket-status").inner_text() == "Selesai"  # Malay, the default
        desk.screenshot(path=str(tmp_path / "agent-ticket.png"), full_page=True)
    finally:
        ctx.close()

    with app.app_context():
        intent = db.session.scalar(select(PaymentIntent).where(PaymentIntent.reference == intent_ref))
        assert intent.status == IntentStatus.SUCCEEDED

    # The customer sees the answer and rates it.
    page.goto(f"{base}/support/t/{ref}")
    assert "dompet anda sudah dikreditkan" in page.content()
    page.check("[data-testid=rating-form] input[value='5']")
    page.fill("[data-testid=rating-form] #comment", "Cepat dan jelas.")
    with page.expect_navigation():
        page.locator("[data-testid=rating-form] button[type=submit]").click()
    assert page.get_by_test_id("rated").is_visible()
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == ref))
        assert (ticket.status, ticket.rating, ticket.rating_comment) == ("resolved", 5, "Cepat dan jelas.")
