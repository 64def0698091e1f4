"""The migration link: sign-in detour, Yes / No, expiry, reuse, tampering, replacement, races."""

import re
import time

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Tier, User
from ebiz.extensions import db
from ebiz.migration import service
from ebiz.migration.models import LegacyCustomer, MigrationSupportRequest
from ebiz.notifications.models import OutboxMessage
from ebiz.wallet import service as wallet
from tests.factories import csrf_from
from tests.races import race

from .helpers import ask_url, last_link, link_path, request_link, submit_link

AMINAH_MYKAD = "850312-14-5566"


def _legacy(legacy_id):
    db.session.expire_all()
    return db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == legacy_id))


def _users():
    return db.session.scalar(select(func.count(User.id)))


def test_mask_email():
    assert service.mask_email("aminah@gmail.com") == "a***h@g***.com"
    assert service.mask_email("a@example.my") == "a***@e***.my"


def test_signin_with_old_mykad_asks_about_the_masked_email(client, imported):
    url = ask_url(client, AMINAH_MYKAD)
    page = client.get(url)
    assert b"a***n@e***.my" in page.data
    assert b"aminah.hassan@example.my" not in page.data


def test_full_flow_creates_account_with_balance_history_and_primary(client, imported):
    link = request_link(client, "aminah.hassan@example.my")
    r = submit_link(client, link)
    assert r.status_code == 302 and r.headers["Location"].endswith("/migration/welcome")
    user = db.session.scalar(select(User).where(User.email == "aminah.hassan@example.my"))
    assert user.mykad == "850312145566" and user.tier == Tier.PRIMARY  # counter-verified in the old system
    # The link proved the address: the account signs in at once, no registration link is mailed.
    assert user.email_confirmation_pending is False
    assert [m.template for m in db.session.scalars(select(OutboxMessage))] == ["migration_link"]
    assert wallet.balance(user) == 25000
    assert _legacy("L-100001").status == "migrated"
    orders = client.get("/orders/")
    assert b"OLD-0000001" in orders.data and b"Old system" in orders.data
    assert wallet.verify() == []


def test_unverified_old_account_starts_regular(client, imported):
    link = request_link(client, "admin@tanukur.example.my")
    r = submit_link(client, link, full_name="Tan Wei Jie", company_name="Tan Ukur Sdn. Bhd.")
    assert r.status_code == 302, r.data[:3000]
    user = db.session.scalar(select(User).where(User.email == "admin@tanukur.example.my"))
    assert user.tier == Tier.REGULAR and user.company_reg_no == "201501034567"
    assert wallet.balance(user) == 120050


def test_weak_password_and_missing_terms_change_nothing(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    r = submit_link(client, link, password="password", confirm="password")
    assert r.status_code == 200 and b"too easy to guess" in r.data
    r = submit_link(client, link, accept_terms="")
    assert r.status_code == 200
    assert _users() == 0 and _legacy("L-100001").status == "waiting"
    assert wallet.legacy_totals()[1] == wallet.legacy_totals()[0]


def test_link_is_single_use(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    assert submit_link(client, link).status_code == 302
    other = client.application.test_client()
    other.set_cookie("lang", "en")
    r = other.get(link_path(link))
    assert r.status_code == 400 and b"already been used" in r.data
    assert _users() == 1


def test_expired_link(app, client, imported):
    link = request_link(client, AMINAH_MYKAD)
    app.config["MIGRATION_LINK_MAX_AGE"] = 1
    time.sleep(2.1)
    r = client.get(link_path(link))
    assert r.status_code == 400 and b"expired" in r.data
    assert _users() == 0


def test_tampered_link(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    path = link_path(link)
    bad = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    r = client.get(bad)
    assert r.status_code == 400 and b"not valid" in r.data
    r = client.post(bad, data={})
    assert r.status_code == 400
    assert _users() == 0


def test_newer_link_replaces_the_older(app, client, imported):
    app.config["MIGRATION_LINK_MIN_INTERVAL_SECONDS"] = 0
    first = request_link(client, AMINAH_MYKAD)
    second = request_link(client, AMINAH_MYKAD)
    assert first != second
    assert client.get(link_path(first)).status_code == 400
    assert submit_link(client, second).status_code == 302


def test_no_records_a_support_request_and_kills_links(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    url = ask_url(client, AMINAH_MYKAD)
    page = client.get(url)
    r = client.post(url + "/no", data={"csrf_token": csrf_from(page.data)})
    req = db.session.scalar(select(MigrationSupportRequest))
    assert req.status == "open" and _legacy("L-100001").email_status == "invalid"
    assert r.status_code == 200 and req.ticket_ref.startswith("SR-") and req.ticket_ref.encode() in r.data
    assert client.get(link_path(link)).status_code == 400


def test_link_requests_are_rate_limited(app, client, imported):
    app.config["MIGRATION_LINK_RATE_LIMIT"] = "2 per hour"
    app.config["MIGRATION_LINK_MIN_INTERVAL_SECONDS"] = 0
    request_link(client, AMINAH_MYKAD)
    request_link(client, AMINAH_MYKAD)
    url = ask_url(client, AMINAH_MYKAD)
    page = client.get(url)
    r = client.post(url + "/yes", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 429
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 2


# ------------------------------------------------------------------------------- no enumeration

def _signin_answer(client, login):
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                             "password": "whatever-it-was"})
    return r.status_code, r.headers.get("Location")


def test_migrated_identifier_answers_like_an_unknown_one(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    submit_link(client, link)
    client.get("/account/logout")
    fresh = client.application.test_client()
    # After migrating, the old identifier is a live account: a wrong password gets the usual answer.
    known = _signin_answer(fresh, "aminah.hassan@example.my")
    unknown = _signin_answer(fresh, "nobody.here@example.my")
    assert known == unknown == (200, None)


def test_link_request_answers_the_same_whether_sent_or_held_back(app, client, imported):
    url = ask_url(client, AMINAH_MYKAD)
    page = client.get(url)
    sent = client.post(url + "/yes", data={"csrf_token": csrf_from(page.data)})
    held = client.post(url + "/yes", data={"csrf_token": csrf_from(page.data)})  # within the interval
    assert sent.status_code == held.status_code == 200
    main = re.compile(rb"<main.*</main>", re.S)  # the page less its signed, timestamped CSRF tokens
    assert b"a***n@e***.my" in main.search(held.data).group(0)
    assert re.sub(rb'value="[^"]*"', b"", main.search(sent.data).group(0)) == \
        re.sub(rb'value="[^"]*"', b"", main.search(held.data).group(0))
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


# ------------------------------------------------------------------------------------- merges

def test_merge_into_existing_account_of_same_mykad(client, imported):
    from tests.factories import make_user

    existing = make_user(tier=Tier.PRIMARY, mykad="850312145566", email="aminah.new@example.my")
    wallet.refund_to_wallet(existing, 1000, idempotency_key="t-merge", memo="EBZ-ORD-TEST")  # its own money
    db.session.commit()
    link = request_link(client, "aminah.hassan@example.my")
    page = client.get(link_path(link))
    assert b"a***w@e***.my" in page.data  # the account it joins, masked
    r = client.post(link_path(link), data={"csrf_token": csrf_from(page.data), "accept_terms": "y"})
    assert r.status_code == 200 and b'data-testid="merged"' in r.data
    assert _users() == 1
    assert wallet.balance(existing) == 1000 + 25000
    assert _legacy("L-100001").user_id == existing.id
    assert {o["reference"] for o in service.history_for(existing)} >= {"OLD-0000001", "OLD-0000002"}
    assert wallet.verify() == []


def test_two_legacy_accounts_of_one_mykad_become_one(client, imported):
    link = request_link(client, "820715-10-5123")
    r = submit_link(client, link, full_name="Rajesh a/l Kumar")
    assert r.status_code == 302, r.data[:2000]
    user = db.session.scalar(select(User).where(User.mykad == "820715105123"))
    assert _legacy("L-100003").user_id == _legacy("L-100004").user_id == user.id
    assert wallet.balance(user) == 4000 + 1525
    refs = {o["reference"] for o in service.history_for(user)}
    assert len(refs) == 4
    assert user.tier == Tier.PRIMARY  # one of the two was verified at a counter
    assert wallet.verify() == []


@pytest.mark.postgres_only("a true race needs PostgreSQL's row locks")
@pytest.mark.usefixtures("imported")
def test_two_tabs_submitting_one_link_make_one_account(app, client, is_postgres):
    link = request_link(client, AMINAH_MYKAD)
    token = link_path(link).rsplit("/", 1)[1]

    def submit(tab):
        service.activate(token, full_name="Aminah binti Hassan", phone=None, address=None, company_name=None,
                         password="Peta-Lama-Tanah-Rata-77", confirm="Peta-Lama-Tanah-Rata-77", accept_terms=True)

    results = race(app, submit, [(1,), (2,)])
    assert sorted(results) == ["LinkProblem", "ok"], results
    db.session.expire_all()
    assert _users() == 1
    user = db.session.scalar(select(User))
    assert wallet.balance(user) == 25000
    assert wallet.verify() == []


@pytest.mark.postgres_only("a true race needs PostgreSQL's row locks")
@pytest.mark.usefixtures("imported")
def test_two_links_of_one_mykad_submitted_at_once_make_one_account(app, is_postgres):
    """Rajesh's two old accounts each get a link; both forms are submitted at once: one account,
    both balances once, no deadlock."""
    app.config["MIGRATION_LINK_MIN_INTERVAL_SECONDS"] = 0
    first = request_link(app.test_client(), "rajesh.kumar@example.my")
    second = request_link(app.test_client(), "rajesh.k@example.my")
    tokens = [link_path(x).rsplit("/", 1)[1] for x in (first, second)]

    def submit(token):
        service.activate(token, full_name="Rajesh a/l Kumar", phone=None, address=None, company_name=None,
                         password="Peta-Lama-Tanah-Rata-77", confirm="Peta-Lama-Tanah-Rata-77", accept_terms=True)

    results = race(app, submit, [(t,) for t in tokens])
    assert sorted(results) == ["LinkProblem", "ok"], results
    db.session.expire_all()
    assert _users() == 1
    user = db.session.scalar(select(User))
    assert wallet.balance(user) == 4000 + 1525
    assert wallet.verify() == []


def test_corrected_address_is_kept(client, imported):
    link = request_link(client, AMINAH_MYKAD)
    submit_link(client, link, address="99 Jalan Ampang, Kuala Lumpur")
    assert _legacy("L-100001").address == "99 Jalan Ampang, Kuala Lumpur"


def test_no_merge_into_an_unverified_account_that_typed_the_same_mykad(client, imported):
    """Someone registered (Regular, unverified) with Aminah's MyKad: her old balance must not go there."""
    from tests.factories import make_user

    impostor = make_user(tier=Tier.REGULAR, mykad="850312145566", email="someone.else@example.my")
    link = request_link(client, "aminah.hassan@example.my")
    r = client.get(link_path(link))
    assert r.status_code == 409 and b"verified at a counter" in r.data
    r = submit_link(client, link)
    assert r.status_code == 409
    assert wallet.balance(impostor) == 0 and _legacy("L-100001").status == "waiting"
    # Once a counter has verified that account (it is hers after all), the same link joins them.
    impostor.tier = Tier.PRIMARY
    db.session.commit()
    page = client.get(link_path(link))
    r = client.post(link_path(link), data={"csrf_token": csrf_from(page.data), "accept_terms": "y"})
    assert r.status_code == 200 and wallet.balance(impostor) == 25000


def test_signed_in_customer_with_the_same_email_and_mykad_reaches_the_old_account(client, imported):
    """Registered afresh with the very same email and MyKad: sign-in never detours, so My orders offers the way."""
    from tests.factories import login_session, make_user

    user = make_user(tier=Tier.PRIMARY, mykad="850312145566", email="aminah.hassan@example.my")
    login_session(client, user)
    assert b"/migration/claim" in client.get("/orders/").data
    r = client.get("/migration/claim")
    assert r.status_code == 302 and "/migration/ask/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    client.post(r.headers["Location"] + "/yes", data={"csrf_token": csrf_from(page.data)})
    link = last_link()
    page = client.get(link_path(link))
    r = client.post(link_path(link), data={"csrf_token": csrf_from(page.data), "accept_terms": "y"})
    assert r.status_code == 200 and wallet.balance(user) == 25000
    assert client.get("/migration/claim").status_code == 200  # nothing left to claim


def test_claim_with_nothing_matching(client, imported):
    from tests.factories import login_session, make_user

    login_session(client, make_user())
    r = client.get("/migration/claim")
    assert r.status_code == 200 and b'data-testid="claim-none"' in r.data


def test_signin_with_passport_or_company_number_finds_the_old_account(client, imported):
    assert "/migration/ask/" in ask_url(client, "tk1234567")  # Hiroshi's passport, any case
    assert "/migration/ask/" in ask_url(client, "201501034567")  # Tan Ukur's company number


def test_ask_page_of_a_migrated_account_answers_like_a_forged_one(client, imported):
    url = ask_url(client, AMINAH_MYKAD)
    submit_link(client, request_link(client, AMINAH_MYKAD))
    fresh = client.application.test_client()
    fresh.set_cookie("lang", "en")
    migrated = fresh.get(url)
    forged = fresh.get("/migration/ask/eyJpZCI6OTk5fQ.forged.signature")
    assert migrated.status_code == forged.status_code == 404
    problem = re.compile(rb'data-testid="link-problem">([^<]*)<')
    assert problem.search(migrated.data).group(1) == problem.search(forged.data).group(1)
    assert b"a***n" not in migrated.data
