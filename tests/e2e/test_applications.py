"""Browser test of a restricted-data application from start to licence: a customer applies with a
document, a reviewer asks for more information, the customer answers, the reviewer recommends, a
second staff member approves, and the customer buys at the approved price and downloads under a
licence that shows the approval's conditions."""

import hashlib
import io
import re
from datetime import timedelta

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.applications import service as applications
from ebiz.clock import to_local, utcnow
from ebiz.extensions import db
from tests.applications.helpers import PDF
from tests.e2e.helpers import sign_in
from tests.factories import make_counter, make_user
from tests.orders.helpers import digital_product

pytestmark = pytest.mark.e2e

DATA = b"tile,x,y\n" + b"".join(f"{i},{i * 3},{i * 7}\n".encode() for i in range(500))
CONDITIONS = "Untuk projek banjir JPS sahaja; tidak boleh diedarkan semula."


def _setup(app):
    from ebiz.delivery.service import store_file
    from ebiz.wallet import service as wallet

    with app.app_context():
        hq = make_counter("HQ")
        counter_staff = make_user(role=Role.COUNTER, counter=hq)
        admin = make_user(role=Role.ADMIN)
        reviewer = make_user(role=Role.SUPPORT, full_name="Penyemak Satu")
        applications.grant_reviewer(reviewer.id, actor=admin)
        buyer = make_user(tier=Tier.PRIMARY, full_name="Aminah binti Hassan")
        wallet.topup_at_counter(staff=counter_staff, customer=buyer, amount_sen=50000, receipt_no="E2E-APL-1")
        product = digital_product(price_sen=30000, licence_key="restricted-data", restricted=True, commit=False)
        product.name = "Imej udara Putrajaya (terhad)"
        product.allowed_extensions = ".csv"
        db.session.flush()
        pf = store_file(product.id, io.BytesIO(DATA), "putrajaya.csv", actor=admin,
                        version_id=product.versions[0].id)
        db.session.commit()
        return dict(buyer=buyer.email, reviewer=(reviewer.email, reviewer.totp_secret),
                    admin=(admin.email, admin.totp_secret), slug=product.slug, sha=pf.sha256)


def _staff_page(page, base, who):
    context = page.context.browser.new_context(locale="ms-MY", viewport={"width": 1280, "height": 900})
    staff = context.new_page()
    sign_in(staff, base, *who)
    return staff


def test_apply_review_answer_approve_buy_and_download_under_the_conditions(live_server, page, tmp_path):
    base = live_server.url
    s = _setup(live_server.app)

    # The customer applies from the restricted product's page, with a document.
    sign_in(page, base, s["buyer"])
    page.goto(f"{base}/catalog/p/{s['slug']}")
    page.get_by_test_id("apply-restricted").click()
    page.select_option("select[name=applicant_category]", "federal_agency")
    page.fill("input[name=agency]", "Jabatan Pengairan dan Saliran")
    page.fill("textarea[name=purpose]", "Pemodelan banjir")
    page.fill("textarea[name=intended_use]", "Model hidrologi lembangan Putrajaya")
    page.fill("input[name=area_state]", "W.P. Putrajaya")
    page.fill("input[name=period_from]", "2026-01-01")
    page.fill("input[name=period_to]", "2026-12-31")
    page.check("input[name=declaration]")
    page.get_by_test_id("save-draft").click()
    page.set_input_files("input[name=document]", files=[
        {"name": "surat-sokongan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_test_id("upload").click()
    assert "surat-sokongan.pdf" in page.get_by_test_id("documents").inner_text()
    page.get_by_test_id("submit").click()
    application_url = page.url
    reference = re.search(r"APL-\d{4}-\d{6}", page.locator("h1").inner_text()).group(0)
    assert page.get_by_test_id("state").inner_text() == "Dihantar"

    # The reviewer finds it in the queue and asks for more information.
    reviewer = _staff_page(page, base, s["reviewer"])
    reviewer.goto(f"{base}/applications/staff/")
    row = reviewer.get_by_test_id("queue-row").filter(has_text=reference)
    assert "14" in row.inner_text() or "13" in row.inner_text()  # working days left on the clock
    row.get_by_role("link", name=reference).click()
    reviewer.fill("textarea[name=question]", "Sila nyatakan daerah yang terlibat.")
    reviewer.get_by_test_id("request-info").click()
    assert reviewer.get_by_test_id("state").inner_text() == "Maklumat lanjut diminta"

    # The customer answers.
    page.goto(application_url)
    assert "daerah" in page.get_by_test_id("info-request").inner_text()
    page.fill("textarea[name=answer]", "Presint 1 hingga Presint 20, Putrajaya.")
    page.get_by_test_id("answer").click()
    assert page.get_by_test_id("state").inner_text() == "Dihantar semula"

    # The reviewer recommends; a second staff member (an administrator) approves.
    reviewer.goto(application_url)
    reviewer.check("input[name=recommendation][value=approve]")
    reviewer.fill("textarea[name=notes]", "Lengkap, tujuan jelas.")
    reviewer.get_by_test_id("recommend").click()
    assert reviewer.get_by_test_id("approve").count() == 0  # a reviewer does not decide
    approver = _staff_page(page, base, s["admin"])
    approver.goto(application_url)
    until = (to_local(utcnow()) + timedelta(days=60)).date().isoformat()
    approver.fill("input[name=valid_until]", until)
    approver.fill("textarea[name=conditions]", CONDITIONS)
    approver.get_by_test_id("approve").click()
    assert approver.get_by_test_id("state").inner_text() == "Diluluskan"
    approver.screenshot(path=str(tmp_path / "approved.png"), full_page=True)

    # The customer buys at the approved price, by wallet, through the approval's checkout.
    page.goto(application_url)
    assert CONDITIONS in page.get_by_test_id("approval").inner_text()
    page.get_by_test_id("buy-approved").click()
    assert "/orders/cart" in page.url and "300.00" in page.get_by_test_id("cart-total").inner_text()
    page.get_by_test_id("accept-licence").check()
    page.get_by_test_id("checkout").click()
    order_url = page.url
    page.get_by_test_id("method-wallet").check()
    page.get_by_test_id("pay").click()
    page.get_by_test_id("receipt").wait_for()
    assert "300.00" in page.get_by_test_id("receipt").inner_text()

    # The licence names the application and its conditions; the file downloads intact.
    page.goto(order_url)
    page.get_by_test_id("licence-link").click()
    assert page.get_by_test_id("licence-application").inner_text() == reference
    assert page.get_by_test_id("licence-conditions").inner_text() == CONDITIONS
    page.screenshot(path=str(tmp_path / "certificate.png"), full_page=True)
    page.goto(base + "/downloads/")
    with page.expect_download() as info:
        page.get_by_test_id("download").first.click()
    with open(info.value.path(), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == s["sha"]
    page.goto(application_url)
    assert page.get_by_test_id("state").inner_text() == "Digunakan"
