"""Licence titles and the licence select on catalogue pages; retiring a product after a confirmation."""

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.catalog import service
from ebiz.catalog.models import Product
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from tests.delivery.helpers import bought_file
from tests.factories import csrf_from, login_session, make_product, make_user

CATALOG = Path(__file__).resolve().parents[2] / "ebiz" / "catalog"


def _product_data(**over) -> dict:
    data = {"sku": "DIG-LIC-1", "name": "Cadastral parcels Perlis", "name_ms": "Lot kadaster Perlis",
            "description": "", "type": "digital",
            "service_kind": "", "category_id": "", "price": "80.00", "licence_key": "standard-digital-data",
            "download_limit": "5", "download_window_days": "30"}
    data.update(over)
    return data


def _licence_dd(html: str) -> str:
    m = re.search(r'<dd data-testid="product-licence">(.*?)</dd>', html, re.S)
    assert m, "no licence on the product page"
    return re.sub(r"<[^>]+>", "", m.group(1))


def test_catalog_never_imports_licensing():
    for path in CATALOG.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "licensing" not in (node.module or ""), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any("licensing" in a.name for a in node.names), path.name


def test_product_page_shows_the_licence_title_in_the_current_language(client):
    p = make_product()
    ms = _licence_dd(client.get(f"/catalog/p/{p.slug}").get_data(as_text=True))
    assert "Lesen Data Digital Standard" in ms and "standard-digital-data" not in ms
    client.set_cookie("lang", "en")
    en = _licence_dd(client.get(f"/catalog/p/{p.slug}").get_data(as_text=True))
    assert "Standard Digital Data Licence" in en and "standard-digital-data" not in en


def test_licence_title_helper_and_directory(app):
    from flask import render_template_string

    directory = service.licence_directory()
    assert {"standard-digital-data", "restricted-data", "on-demand-service", "training-terms"} <= directory.keys()
    assert ("restricted-data", "Restricted Data Licence") in directory.choices("en")
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert render_template_string("{{ licence_title('restricted-data') }}") == "Restricted Data Licence"
        # A key whose file is gone shows as itself rather than breaking the page.
        assert render_template_string("{{ licence_title('gone-licence') }}") == "gone-licence"
        assert render_template_string("{{ licence_title(none) }}") == ""


def test_admin_form_offers_the_known_licences_as_a_select(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    html = client.get("/catalog/admin/new").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="licence_key".*?</select>', html, re.S).group(0)
    options = dict(re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_html))
    assert options["standard-digital-data"] == "Standard Digital Data Licence"
    assert options["on-demand-service"] == "On-Demand Service Terms" and "" in options


def test_admin_unknown_licence_is_refused_beside_the_field_and_nothing_saved(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    page = client.get("/catalog/admin/new")
    r = client.post("/catalog/admin/new", data=_product_data(csrf_token=csrf_from(page.data),
                                                              licence_key="jupem-standard"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    field = re.search(r'data-field="licence_key".*?</div>', html, re.S).group(0)
    assert "There is no licence" in field and "jupem-standard" in field
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_admin_digital_product_needs_a_licence_and_a_known_one_is_saved(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    token = csrf_from(client.get("/catalog/admin/new").data)
    r = client.post("/catalog/admin/new", data=_product_data(csrf_token=token, licence_key=""))
    assert r.status_code == 200 and "need a licence" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0
    r = client.post("/catalog/admin/new", data=_product_data(csrf_token=token, licence_key="restricted-data"))
    assert r.status_code == 302
    assert db.session.scalar(select(Product.licence_key).where(Product.sku == "DIG-LIC-1")) == "restricted-data"


def test_service_refuses_unknown_licence_keys(app):
    admin = make_user(role=Role.ADMIN)
    data = {"sku": "PRT-1", "name": "Map", "type": "printed", "price_sen": 100, "stock": 1,
            "licence_key": "no-such-licence"}
    with pytest.raises(ValidationError) as exc:
        service.save_product(data, actor=admin)
    assert exc.value.field == "licence_key"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0
    p = service.save_product({**data, "licence_key": ""}, actor=admin)  # printed: none needed
    assert p.licence_key is None


def test_edit_form_shows_a_stored_unknown_key_and_refuses_to_save_it(client):
    login_session(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    p = make_product(licence_key="old-licence")
    page = client.get(f"/catalog/admin/{p.id}")
    assert re.search(r'<option selected value="old-licence">old-licence \(unknown licence\)</option>|'
                     r'<option value="old-licence" selected>', page.get_data(as_text=True))
    r = client.post(f"/catalog/admin/{p.id}", data=_product_data(csrf_token=csrf_from(page.data), sku=p.sku,
                                                                  name="Renamed", licence_key="old-licence"))
    assert r.status_code == 200 and "There is no licence" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Product, p.id).name != "Renamed"


def test_digital_product_without_licence_cannot_be_published(app):
    p = make_product(status="draft", licence_key=None)
    with pytest.raises(Conflict):
        service.set_status(p.id, "published", actor=make_user(role=Role.ADMIN))
    db.session.rollback()
    assert db.session.get(Product, p.id).status == "draft"


# -- retiring ------------------------------------------------------------------------------------

def test_retire_goes_through_a_confirmation_page(client):
    admin = make_user(role=Role.ADMIN)
    login_session(client, admin)
    client.set_cookie("lang", "en")
    p = make_product()
    edit = client.get(f"/catalog/admin/{p.id}").get_data(as_text=True)
    # The edit page links to the confirmation; it holds no form that retires at once.
    assert f'href="/catalog/admin/{p.id}/retire"' in edit and 'value="retired"' not in edit
    page = client.get(f"/catalog/admin/{p.id}/retire")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "disappears from the catalogue" in html and "keep their licences" in html
    assert "<script" not in html.split("</header>")[-1] and "onclick" not in html and "confirm(" not in html
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "published"  # looking changes nothing
    r = client.post(f"/catalog/admin/{p.id}/retire", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/catalog/admin/{p.id}")
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "retired"
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "catalog.product.status",
                                                    AuditEvent.actor_id == admin.id))
    assert ev is not None and ev.details["old"] == "published" and ev.details["new"] == "retired"


def test_retire_needs_post_and_csrf_and_the_status_form_no_longer_retires(client):
    admin = make_user(role=Role.ADMIN)
    login_session(client, admin)
    p = make_product()
    token = csrf_from(client.get(f"/catalog/admin/{p.id}").data)
    assert client.post(f"/catalog/admin/{p.id}/retire", data={}).status_code in (302, 400)
    client.post(f"/catalog/admin/{p.id}/status", data={"csrf_token": token, "status": "retired"})
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "published"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "catalog.product.status")) == 0
    customer = make_user(tier=Tier.PRIMARY)
    login_session(client, customer)
    assert client.get(f"/catalog/admin/{p.id}/retire").status_code == 403
    assert client.post(f"/catalog/admin/{p.id}/retire", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Product, p.id).status == "published"


def test_confirmation_of_a_draft_goes_back_to_the_product(client):
    login_session(client, make_user(role=Role.ADMIN))
    p = make_product(status="draft")
    r = client.get(f"/catalog/admin/{p.id}/retire")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/catalog/admin/{p.id}")
    assert client.get("/catalog/admin/999999/retire").status_code == 404


def test_what_the_page_says_retiring_does_is_what_happens(client):
    """Hidden from the catalogue, page kept, not sold; buyers keep downloading."""
    user, product, grant, ent, pf, _data = bought_file()
    admin = make_user(role=Role.ADMIN)
    service.set_status(product.id, "retired", actor=admin)
    db.session.commit()
    assert product.name not in client.get("/catalog/").get_data(as_text=True)
    page = client.get(f"/catalog/p/{product.slug}")
    assert page.status_code == 200
    assert service.may_purchase(user, product)[0] is False
    login_session(client, user)
    r = client.get(f"/downloads/get/{ent.ref}/{pf.ref}")
    assert r.status_code == 302 and "/downloads/d/" in r.headers["Location"]


def test_coverage_is_an_official_state_and_a_district_matched_whatever_its_case(app, client):
    admin = make_user(role=Role.ADMIN)
    data = {"sku": "PRT-2", "name": "Peta daerah", "type": "printed", "price_sen": 100, "stock": 1,
            "licence_key": "", "state": "johor", "district": "johor  bahru"}
    with pytest.raises(ValidationError) as exc:
        service.save_product(data, actor=admin)
    assert exc.value.field == "state"
    db.session.rollback()
    p = service.save_product({**data, "state": "Johor"}, actor=admin)
    service.set_status(p.id, "published", actor=admin)
    db.session.commit()
    assert p.district == "Johor Bahru"
    html = client.get("/catalog/?state=Johor&district=johor%20bahru").get_data(as_text=True)
    assert "Peta daerah" in html
