"""Browser tests of the shared layout: the header and its navigation on a phone (390 px) and on a
desktop, the skip link, the language switch, print, and nothing loaded from outside the app."""

from urllib.parse import urlsplit

import pytest

from ebiz.accounts.models import Role, Tier
from tests.e2e.helpers import PHONE, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

def _customer(live_server):
    with live_server.app.app_context():
        return make_user(tier=Tier.PRIMARY).email


def _no_horizontal_overflow(page):
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.get_by_test_id("site-header").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width


def test_phone_header_fits_and_the_menu_opens_reaches_a_page_and_closes(live_server, page):
    sign_in(page, live_server.url, _customer(live_server))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/")
    _no_horizontal_overflow(page)
    toggle = page.get_by_test_id("nav-toggle")
    orders = page.get_by_test_id("nav-orders")
    # Collapsed: one row with the brand, the menu button and the language switch; no links showing.
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not orders.is_visible() and not page.get_by_test_id("nav-signout").is_visible()
    assert page.locator(".lang-switch button").is_visible()
    header = page.get_by_test_id("site-header").bounding_box()
    assert header["height"] < 90, "the collapsed header should be a single row on a phone"

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    # Every group is listed in the open menu (no second tap), and nothing sticks out sideways.
    for testid in ("nav-catalogue", "nav-cart", "nav-orders", "nav-licences", "nav-wallet", "nav-downloads",
                   "nav-account", "nav-signout"):
        assert page.get_by_test_id(testid).is_visible(), testid
    _no_horizontal_overflow(page)
    # Escape closes the menu and puts the focus back on its button.
    orders.focus()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not orders.is_visible()
    assert page.evaluate("document.activeElement.dataset.testid") == "nav-toggle"

    toggle.click()
    orders.click()
    page.wait_for_url("**/orders/")
    assert page.get_by_role("heading", level=1).is_visible()
    assert page.get_by_test_id("nav-orders").get_attribute("aria-current") == "page"
    _no_horizontal_overflow(page)


def test_desktop_shows_the_links_and_a_group_opens_as_a_list(live_server, page):
    with live_server.app.app_context():
        admin = make_user(role=Role.ADMIN)
        email, secret = admin.email, admin.totp_secret
    sign_in(page, live_server.url, email, secret)
    page.goto(live_server.url + "/admin/users")
    assert not page.get_by_test_id("nav-toggle").is_visible()
    assert page.get_by_test_id("nav-staff-home").is_visible() and page.get_by_test_id("nav-signout").is_visible()
    # The whole header is one row at 1280 px, even with an administrator's tools.
    assert page.get_by_test_id("site-header").bounding_box()["height"] < 80
    group = page.get_by_test_id("nav-group-service")
    button = group.locator(".nav-group-toggle")
    link = group.locator("a[href$='/payments/staff/refunds']")
    assert button.get_attribute("aria-expanded") == "false" and not link.is_visible()
    button.click()
    assert button.get_attribute("aria-expanded") == "true" and link.is_visible()
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and not link.is_visible()
    # The group holding the current page is marked, and its link says so.
    admin_group = page.get_by_test_id("nav-group-admin")
    assert "is-current" in admin_group.get_attribute("class")
    assert admin_group.locator("a[aria-current=page]").count() == 1
    # Opening one group and then clicking elsewhere closes it.
    admin_group.locator(".nav-group-toggle").click()
    assert admin_group.locator("a[aria-current=page]").is_visible()
    page.locator(".site-footer").click()
    assert not admin_group.locator("a[aria-current=page]").is_visible()
    # On a phone the wide users table scrolls inside its own box (and takes the keyboard focus), the page does not.
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/admin/users")
    _no_horizontal_overflow(page)
    table = page.locator("table.data").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth") and table.get_attribute("tabindex") == "0"


def test_skip_link_is_the_first_stop_and_moves_to_the_content(live_server, page):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/catalog/")
    skip = page.get_by_test_id("skip-link")
    assert not skip.is_visible() or skip.bounding_box()["y"] + skip.bounding_box()["height"] <= 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "skip-link"
    box = skip.bounding_box()
    assert box["y"] >= 0 and box["height"] > 10, "the focused skip link must be on screen"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert page.evaluate("document.activeElement.id") == "main"


def test_language_switch_works_on_a_phone_without_opening_the_menu(live_server, page):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/catalog/")
    assert page.locator("html").get_attribute("lang") == "ms"
    page.get_by_test_id("lang-en").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert urlsplit(page.url).path == "/catalog/"  # back on the same page
    assert page.get_by_test_id("lang-ms").is_visible()
    _no_horizontal_overflow(page)


def test_print_hides_the_chrome_and_nothing_loads_from_outside(live_server, page):
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/no-such-page")
    assert page.get_by_test_id("error-page").is_visible()
    own = urlsplit(live_server.url).netloc
    assert requested and all(urlsplit(u).netloc == own for u in requested if not u.startswith("data:")), requested
    page.emulate_media(media="print")
    assert not page.get_by_test_id("site-header").is_visible()
    assert not page.locator(".site-footer").is_visible()
    assert page.locator(".print-letterhead").is_visible()
    page.emulate_media(media="screen")
    assert page.get_by_test_id("site-header").is_visible() and not page.locator(".print-letterhead").is_visible()


def test_without_javascript_every_link_is_listed_on_a_phone(live_server, _browser):
    email = _customer(live_server)
    context = _browser.new_context(java_script_enabled=False, viewport=PHONE, locale="ms-MY")
    try:
        page = context.new_page()
        sign_in(page, live_server.url, email)
        page.goto(live_server.url + "/")
        assert not page.get_by_test_id("nav-toggle").is_visible()
        for testid in ("nav-catalogue", "nav-cart", "nav-orders", "nav-wallet", "nav-account", "nav-signout"):
            assert page.get_by_test_id(testid).is_visible(), testid
        _no_horizontal_overflow(page)
    finally:
        context.close()
