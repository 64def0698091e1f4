"""Browser test of the catalogue: browse, filter, search and open a product."""

import pytest
from playwright.sync_api import expect

from ebiz.catalog.models import Category
from ebiz.extensions import db
from tests.factories import make_product

pytestmark = pytest.mark.e2e


def test_browse_search_and_open_a_product(live_server, page):
    with live_server.app.app_context():
        cat = Category(slug="survey-control", name_ms="Kawalan ukur", name_en="Survey control")
        db.session.add(cat)
        db.session.flush()
        make_product(name="Survey control points – Selangor", description="Geodetic benchmarks and GNSS stations",
                     category_id=cat.id, price_sen=8000, slug="scp-selangor")
        make_product(name="Cadastral parcels – Petaling", description="Lot boundaries", price_sen=25000)
        make_product(type="printed", name="Peta Semenanjung Malaysia", price_sen=1500, stock=4)
        db.session.remove()

    page.goto(live_server.url + "/catalog/")
    cards = page.locator("[data-testid=product-card]")
    expect(cards).to_have_count(3)

    page.select_option("#type", "printed")
    page.click("[data-testid=catalog-search-submit]")
    # Wait for the new page: counting right after the click may still see the old one (or none).
    page.wait_for_url("**type=printed**")
    expect(cards).to_have_count(1)
    assert "Peta Semenanjung" in cards.first.inner_text()

    page.select_option("#type", "")
    page.fill("[data-testid=catalog-search]", "gnss benchmarks")
    page.click("[data-testid=catalog-search-submit]")
    page.wait_for_url("**q=gnss**")
    expect(cards).to_have_count(1)
    cards.first.get_by_role("link").click()
    page.wait_for_url("**/catalog/p/scp-selangor")
    assert page.locator("[data-testid=product-name]").inner_text() == "Survey control points – Selangor"
    assert "80.00" in page.locator("[data-testid=product-price]").inner_text()
    assert page.locator("[data-testid=version]").count() == 1
    # Not signed in: the page says why it cannot be bought yet.
    assert page.locator("[data-testid=why-not]").is_visible()
