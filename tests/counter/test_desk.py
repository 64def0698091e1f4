"""The counter desk: find a customer, check the document, upgrade to Primary."""

from sqlalchemy import select

from ebiz.accounts.models import Kind, Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from, make_counter, make_user, sign_in


def _staff(client, code="SGR"):
    counter = make_counter(code)
    staff = make_user(role=Role.COUNTER, counter=counter)
    sign_in(client, staff)
    return staff, counter


def test_find_and_upgrade_with_the_matching_document(client):
    staff, counter = _staff(client)
    customer = make_user(mykad="850615105523", email="tan@contoh.my")
    html = client.get("/counter/", query_string={"q": "850615-10-5523"}).get_data(as_text=True)
    assert "tan@contoh.my" in html and f"/counter/customers/{customer.id}" in html
    page = client.get(f"/counter/customers/{customer.id}")
    r = client.post(f"/counter/customers/{customer.id}", data={"csrf_token": csrf_from(page.data),
                                                                "document_type": "mykad",
                                                                "document_number": "850615-10-5523"})
    assert r.status_code == 302
    db.session.refresh(customer)
    assert customer.tier == Tier.PRIMARY and customer.primary_verified_at is not None
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.tier_changed"))
    assert ev.actor_id == staff.id and ev.details["counter"] == counter.code
    assert ev.details["document"] == "mykad:850615105523"
    assert db.session.scalar(select(OutboxMessage.template).where(OutboxMessage.to_address == customer.email)) \
        == "primary_upgrade"


def _company_upgrade(client, company, **fields):
    page = client.get(f"/counter/customers/{company.id}")
    data = {"csrf_token": csrf_from(page.data), "present": "representative", "person_name": "Siti Aminah",
            "document_type": "mykad", "document_number": "", "identity_check": "chip", "certificate_no": ""}
    data.update(fields)
    return client.post(f"/counter/customers/{company.id}/company-upgrade", data=data)


def test_company_page_says_who_may_come_and_the_representative_upgrades_it(client):
    staff, counter = _staff(client)
    company = make_user(kind=Kind.COMPANY, company_reg_no="201901012345", rep_mykad="850615105523",
                        full_name="Siti Aminah")
    html = client.get(f"/counter/customers/{company.id}").get_data(as_text=True)
    assert 'data-testid="company-upgrade"' in html and "Siti Aminah" in html and "850615105523" in html
    r = _company_upgrade(client, company, document_number="850615-10-5523")
    assert r.status_code == 302
    db.session.refresh(company)
    assert company.tier == Tier.PRIMARY
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "company.primary_check"))
    assert ev.actor_id == staff.id and ev.details["present"] == "representative"
    assert ev.details["document"] == "mykad:850615105523" and ev.details["identity_check"] == "chip"
    assert ev.details["certificate_seen"] is False and ev.details["counter"] == counter.code


def test_company_upgrade_by_the_wrong_person_is_refused_with_the_reason(client):
    _staff(client)
    company = make_user(kind=Kind.COMPANY, company_reg_no="201901012345", rep_mykad="850615105523")
    cases = [
        (dict(document_number="900101145678"), "document_number", "not the representative"),
        (dict(document_type="passport", document_number="K1234567"), "document_number", "not the representative"),
        (dict(present="owner", document_number="900101145678"), "certificate_seen", "certificate"),
        (dict(present="owner", document_number="900101145678", certificate_seen="y",
              certificate_no="202001000005"), "certificate_no", "another company"),
    ]
    for fields, field, words in cases:
        r = _company_upgrade(client, company, **fields)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and f'id="{field}-error"' in html and words in html, fields
    # The old way (a certificate on its own) no longer upgrades a company.
    page = client.get(f"/counter/customers/{company.id}")
    client.post(f"/counter/customers/{company.id}", data={"csrf_token": csrf_from(page.data),
                                                           "document_type": "company_cert",
                                                           "document_number": "201901012345"})
    db.session.refresh(company)
    assert company.tier == Tier.REGULAR
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action.in_(
        ["company.primary_check", "account.tier_changed"]))) is None


def test_company_owner_with_the_certificate_upgrades_it(client):
    _staff(client)
    company = make_user(kind=Kind.COMPANY, company_reg_no="201901012345", rep_mykad="850615105523")
    r = _company_upgrade(client, company, present="owner", person_name="Lim Ah Kow", document_number="900101145678",
                         certificate_seen="y", certificate_no="2019-01-012345", identity_check="photo")
    assert r.status_code == 302
    db.session.refresh(company)
    assert company.tier == Tier.PRIMARY


def test_a_document_that_does_not_match_changes_nothing(client):
    _staff(client)
    customer = make_user(mykad="850615105523")
    page = client.get(f"/counter/customers/{customer.id}")
    for doc_type, number in (("mykad", "900101145678"), ("passport", "K1234567"), ("mykad", "not a number")):
        r = client.post(f"/counter/customers/{customer.id}", data={"csrf_token": csrf_from(page.data),
                                                                    "document_type": doc_type,
                                                                    "document_number": number})
        assert 'id="document_number-error"' in r.get_data(as_text=True)
    db.session.refresh(customer)
    assert customer.tier == Tier.REGULAR
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.tier_changed")) is None


def test_other_roles_are_refused_at_the_desk(app):
    customer = make_user(mykad="850615105523")
    for role in (Role.CUSTOMER, Role.SUPPORT, Role.ADMIN):
        client = app.test_client()
        sign_in(client, make_user(role=role))
        assert client.get("/counter/").status_code == 403
        page = client.get("/account/")
        r = client.post(f"/counter/customers/{customer.id}", data={"csrf_token": csrf_from(page.data),
                                                                    "document_type": "mykad",
                                                                    "document_number": "850615105523"})
        assert r.status_code == 403
    db.session.refresh(customer)
    assert customer.tier == Tier.REGULAR


def test_staff_are_not_served_as_customers(client):
    _staff(client)
    other_staff = make_user(role=Role.SUPPORT)
    assert client.get(f"/counter/customers/{other_staff.id}").status_code == 404


def _topup(client, customer, amount="50.00", receipt="HQ-000123"):
    page = client.get(f"/counter/customers/{customer.id}")
    return client.post(f"/counter/customers/{customer.id}/topup",
                       data={"csrf_token": csrf_from(page.data), "amount": amount, "receipt_no": receipt})


def test_hq_counter_tops_up_a_primary_wallet_once_per_receipt(client):
    from ebiz.wallet import service as wallet

    _staff(client, "HQ")
    customer = make_user(tier=Tier.PRIMARY)
    assert 'data-testid="topup"' in client.get(f"/counter/customers/{customer.id}").get_data(as_text=True)
    assert _topup(client, customer).status_code == 302
    again = _topup(client, customer)  # the same receipt again: credited once, and said so
    assert again.status_code == 302
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "HQ-000123" in page and "already credited" in page
    assert wallet.balance(customer) == 5000
    r = _topup(client, customer, amount="12.345", receipt="HQ-000124")
    assert r.status_code == 400 and 'id="amount-error"' in r.get_data(as_text=True)
    assert wallet.balance(customer) == 5000


def test_state_counter_staff_are_refused_a_top_up(client):
    from ebiz.wallet import service as wallet

    _staff(client, "SGR")
    customer = make_user(tier=Tier.PRIMARY)
    html = client.get(f"/counter/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="topup"' not in html and "HQ counter only" in html
    r = _topup(client, customer)
    assert r.status_code == 403
    assert wallet.balance(customer) == 0
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet.counter_topup_refused"))


def test_anyone_can_see_where_the_counters_are(client):
    make_counter("SGR", is_hq=False)
    hq = make_counter("HQ")
    closed = make_counter("PRK", is_hq=False)
    closed.active = False
    db.session.commit()
    r = client.get("/counter/locations")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    table = html[html.index('data-testid="counters"'):]
    assert table.index(hq.name) < table.index("Kaunter SGR") and "Kaunter PRK" not in table
