"""Products in both languages: each reader sees their own, staff edit both, search matches either."""

import re
from datetime import date

from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.catalog import service
from ebiz.catalog.models import Product, ProductVersion
from ebiz.extensions import db
from tests.factories import csrf_from, login_session, make_product, make_user


def _parcels():
    p = make_product(name="Cadastral parcels Kuantan", name_ms="Lot kadaster Kuantan",
                     description="Lot boundaries of the district", description_ms="Sempadan lot bagi daerah",
                     version=False)
    db.session.add(ProductVersion(product_id=p.id, label="2026.1", release_date=date(2026, 1, 15),
                                  change_notes="Corrected lot numbers", change_notes_ms="Nombor lot dibetulkan",
                                  published=True))
    make_product(name="Survey control points Johor", name_ms="Titik kawalan ukur Johor")
    db.session.commit()
    return p


def _names(html: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]*">([^<]*)</a></h2>', html)


def test_a_malay_search_finds_the_product_by_its_malay_name_and_an_english_one_by_its_english(client):
    _parcels()
    client.set_cookie("lang", "ms")
    assert _names(client.get("/catalog/?q=kadaster").get_data(as_text=True)) == ["Lot kadaster Kuantan"]
    assert _names(client.get("/catalog/?q=sempadan").get_data(as_text=True)) == ["Lot kadaster Kuantan"]
    client.set_cookie("lang", "en")
    assert _names(client.get("/catalog/?q=cadastral").get_data(as_text=True)) == ["Cadastral parcels Kuantan"]
    assert _names(client.get("/catalog/?q=kadaster").get_data(as_text=True)) == ["Cadastral parcels Kuantan"]
    assert _names(client.get("/catalog/?q=titik").get_data(as_text=True)) == ["Survey control points Johor"]


def test_the_product_page_speaks_the_readers_language(client):
    p = _parcels()
    client.set_cookie("lang", "ms")
    ms = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    assert "Lot kadaster Kuantan" in ms and "Sempadan lot bagi daerah" in ms and "Nombor lot dibetulkan" in ms
    assert "Cadastral parcels" not in ms and "Corrected lot numbers" not in ms
    client.set_cookie("lang", "en")
    en = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    assert "Cadastral parcels Kuantan" in en and "Lot boundaries of the district" in en
    assert "Corrected lot numbers" in en and "Lot kadaster" not in en


def test_a_product_kept_in_english_only_reads_in_english_in_malay_too(client):
    p = make_product(name="Old product", name_ms=None, description="Only English")
    client.set_cookie("lang", "ms")
    html = client.get(f"/catalog/p/{p.slug}").get_data(as_text=True)
    assert "Old product" in html and "Only English" in html


def _form(page, **over):
    data = {"csrf_token": csrf_from(page.data), "sku": "PRT-BI-1", "name": "District map of Kuantan",
            "name_ms": "Peta daerah Kuantan", "description": "Folded paper map",
            "description_ms": "Peta kertas berlipat",
            "type": "printed", "service_kind": "", "category_id": "", "price": "15.00", "stock": "4",
            "download_limit": "5", "download_window_days": "30"}
    data.update(over)
    return data


def test_staff_write_both_languages_and_the_malay_name_is_required(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    page = client.get("/catalog/admin/new")
    html = page.get_data(as_text=True)
    assert 'name="name_ms"' in html and 'name="description_ms"' in html
    r = client.post("/catalog/admin/new", data=_form(page, name_ms=""))
    assert r.status_code in (200, 400)
    beside = r'class="field has-error" data-field="name_ms">\s*<label[^>]*>[^<]*</label>\s*<input[^>]*aria-invalid'
    assert re.search(beside, r.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0  # nothing saved
    r = client.post("/catalog/admin/new", data=_form(page))
    assert r.status_code == 302
    p = db.session.scalar(select(Product).where(Product.sku == "PRT-BI-1"))
    assert (p.name, p.name_ms, p.description, p.description_ms) == \
        ("District map of Kuantan", "Peta daerah Kuantan", "Folded paper map", "Peta kertas berlipat")


def test_version_change_notes_in_both_languages_through_the_admin_pages(client):
    admin = make_user(role=Role.ADMIN)
    p = make_product(name="Cadastral parcels Klang", version=False)
    login_session(client, admin)
    page = client.get(f"/catalog/admin/{p.id}")
    client.post(f"/catalog/admin/{p.id}/versions", data={
        "csrf_token": csrf_from(page.data), "label": "2026.3", "release_date": "2026-03-01",
        "change_notes": "New lots", "change_notes_ms": "Lot baharu", "published": "y"})
    v = db.session.scalar(select(ProductVersion).where(ProductVersion.product_id == p.id))
    assert (v.change_notes, v.change_notes_ms) == ("New lots", "Lot baharu")
    service.edit_version(v.id, change_notes="New lots (fixed)", change_notes_ms="Lot baharu (dibetulkan)",
                         published=True, actor=admin)
    assert v.change_notes_ms == "Lot baharu (dibetulkan)"


def test_every_demo_product_has_its_malay(app):
    from ebiz.catalog import demo

    demo.seed()
    for p in db.session.scalars(select(Product)):
        assert p.name_ms and p.name_ms != p.name, p.sku
    for v in db.session.scalars(select(ProductVersion)):
        assert v.change_notes_ms and v.change_notes_ms != v.change_notes


def test_orders_and_invoices_name_what_was_bought_in_the_readers_language(app):
    from tests.orders.helpers import client_for, place

    user = make_user()
    p = make_product(type="printed", name="District map of Kuantan", name_ms="Peta daerah Kuantan")
    order = place(user, p)
    assert (order.lines[0].name, order.lines[0].name_ms) == ("District map of Kuantan", "Peta daerah Kuantan")
    assert order.invoice.lines[0]["name_ms"] == "Peta daerah Kuantan"
    client = client_for(app, user)
    for lang, shown, hidden in (("ms", "Peta daerah Kuantan", "District map"), ("en", "District map of Kuantan",
                                                                                 "Peta daerah")):
        client.set_cookie("lang", lang)
        for path in (f"/orders/{order.reference}", f"/orders/{order.reference}/invoice", "/orders/"):
            html = client.get(path).get_data(as_text=True)
            assert shown in html and hidden not in html, (lang, path)
