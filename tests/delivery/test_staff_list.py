"""The staff list of download allowances: customer column and search by customer email."""

import re

from ebiz.accounts.models import Kind, Role, Tier
from ebiz.delivery import service
from ebiz.extensions import db
from tests.factories import login_session, make_grant, make_product, make_user


def _entitled(user):
    grant = make_grant(user, make_product(), commit=False)
    ent = service.grant_entitlement(grant)
    db.session.commit()
    return ent


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="entitlement-row">(.*?)</tr>', html, re.S)


def test_rows_name_the_customer_and_link_admins_to_the_user_page(client):
    siti = make_user(tier=Tier.PRIMARY, full_name="Siti Aminah", email="siti.aminah@example.my")
    company = make_user(tier=Tier.PRIMARY, kind=Kind.COMPANY, company_name="Geo Ukur Sdn. Bhd.")
    ent_siti, ent_company = _entitled(siti), _entitled(company)
    login_session(client, make_user(role=Role.ADMIN))
    html = client.get("/downloads/staff/").get_data(as_text=True)
    rows = {re.search(r">(EBZ-DL-[^<]+)<", r).group(1): r for r in _rows(html)}
    assert "Siti Aminah" in rows[ent_siti.ref] and "siti.aminah@example.my" in rows[ent_siti.ref]
    assert f'href="/admin/users/{siti.id}"' in rows[ent_siti.ref]
    assert "Geo Ukur Sdn. Bhd." in rows[ent_company.ref] and company.email in rows[ent_company.ref]
    assert "<th>Customer</th>" in html or "<th>Pelanggan</th>" in html


def test_support_agents_see_the_customer_without_a_link_they_could_not_open(client):
    siti = make_user(tier=Tier.PRIMARY, full_name="Siti Aminah")
    _entitled(siti)
    login_session(client, make_user(role=Role.SUPPORT))
    html = client.get("/downloads/staff/").get_data(as_text=True)
    [row] = _rows(html)
    assert "Siti Aminah" in row and siti.email in row and "/admin/users/" not in row


def test_search_by_customer_email_whole_or_part(client):
    siti = make_user(tier=Tier.PRIMARY, email="siti.aminah@example.my")
    ali = make_user(tier=Tier.PRIMARY, email="ali.bakar@example.my")
    ent_siti, ent_ali = _entitled(siti), _entitled(ali)
    login_session(client, make_user(role=Role.ADMIN))
    for q in ("siti.aminah@example.my", "SITI.Aminah", "aminah@"):
        html = client.get("/downloads/staff/", query_string={"q": q}).get_data(as_text=True)
        assert ent_siti.ref in html and ent_ali.ref not in html, q
    # Wildcards in the query are taken literally.
    assert service.find_entitlements("%") == [] and service.find_entitlements("siti_aminah") == []
    # Reference and licence number still find exactly one.
    assert service.find_entitlements(ent_ali.ref.lower()) == [ent_ali]
    assert service.find_entitlements(ent_ali.grant.number) == [ent_ali]
    assert service.find_entitlements("nobody@example.my") == []


def test_customers_cannot_open_the_list(client):
    login_session(client, make_user(tier=Tier.PRIMARY))
    assert client.get("/downloads/staff/").status_code == 403
