"""Finding a customer at the counter (and in the staff console): by name or partly typed, bounded,
with "%" and "_" taken as text; one search (accounts.search) behind every desk."""

import pytest
from sqlalchemy import text

from ebiz.accounts import search
from ebiz.accounts.models import NAME_SEARCH_SQL, Kind, Role
from ebiz.extensions import db
from tests.factories import make_counter, make_user, sign_in


@pytest.fixture
def people(app):
    return {
        "nurul": make_user(full_name="Nurul Huda binti Ali", email="nurul.huda@contoh.my", mykad="900101145678"),
        "ahmad": make_user(full_name="Muhammad Ahmad bin Ismail", email="mad@contoh.my", mykad="880202105511"),
        "tan": make_user(kind=Kind.FOREIGNER, full_name="Tan Mei Ling", email="meiling@contoh.my",
                         passport_no="K1234567"),
        "geo": make_user(kind=Kind.COMPANY, full_name="Siti Rep", company_name="Geo Ukur Sdn. Bhd.",
                         company_reg_no="201901012345", email="geo@contoh.my",
                         rep_mykad="770707075577"),
        "staff": make_user(role=Role.SUPPORT, full_name="Ahmad Staff", email="ahmad.staff@contoh.my"),
    }


def _emails(users) -> set[str]:
    return {u.email for u in users}


def _find(q):
    return _emails(search.find_users(q, role=Role.CUSTOMER))


def test_a_customer_is_found_by_part_of_a_name_email_or_identity_number(people):
    assert _find("ahmad") == {"mad@contoh.my"}  # a word inside the name; staff are not customers
    assert _find("nurul hud") == {"nurul.huda@contoh.my"}  # every word, the last one begun
    assert _find("NURUL.HU") == {"nurul.huda@contoh.my"}  # the start of an email
    assert _find("geo ukur") == {"geo@contoh.my"}  # a company by its name
    assert _find("9001011") == {"nurul.huda@contoh.my"}  # the first digits of a MyKad
    assert _find("880202-10") == {"mad@contoh.my"}  # written with dashes
    assert _find("k123") == {"meiling@contoh.my"}  # a passport's start, any case
    assert _find("2019010") == {"geo@contoh.my"}
    assert _find("900101-14-5678") == {"nurul.huda@contoh.my"}  # whole numbers still match


def test_short_or_wildcard_queries_match_nothing_they_should_not(people):
    assert _find("") == set() and _find("a") == set() and _find("ah") == set()
    assert _find("%") == set() and _find("___") == set() and _find("%a%") == set()
    assert _find("ahmad:* & !(nurul |") <= {"mad@contoh.my"}  # tsquery syntax is text, never an error


def test_results_are_bounded(app):
    for i in range(search.LIMIT + 5):
        make_user(full_name=f"Siti Aminah {i}", email=f"siti{i}@contoh.my")
    assert len(search.find_users("siti aminah", role=Role.CUSTOMER)) == search.LIMIT


def test_the_counter_desk_finds_by_name_and_says_how_to_search(client, people):
    sign_in(client, make_user(role=Role.COUNTER, counter=make_counter("SGR")))
    client.set_cookie("lang", "en")
    html = client.get("/counter/", query_string={"q": "Tan Mei"}).get_data(as_text=True)
    assert "meiling@contoh.my" in html and f"/counter/customers/{people['tan'].id}" in html
    assert "nurul.huda@contoh.my" not in html
    html = client.get("/counter/", query_string={"q": "zzz"}).get_data(as_text=True)
    assert "Search by name" in html


def test_customer_lookup_and_the_user_list_use_the_same_search(client, people):
    sign_in(client, make_user(role=Role.ADMIN))
    html = client.get("/support/desk", query_string={"q": "ahmad"}).get_data(as_text=True)  # the desk's lookup
    assert "mad@contoh.my" in html and "ahmad.staff@contoh.my" not in html  # customers only
    html = client.get("/admin/users", query_string={"q": "ahmad"}).get_data(as_text=True)
    assert "mad@contoh.my" in html and "ahmad.staff@contoh.my" in html
    html = client.get("/admin/users", query_string={"q": "9001011"}).get_data(as_text=True)
    assert "nurul.huda@contoh.my" in html and "mad@contoh.my" not in html


@pytest.mark.postgres_only("an index check: SQLite has no GIN index")
def test_the_name_search_uses_its_index_on_postgresql(app, people):
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in db.session.execute(text(
        f"EXPLAIN SELECT id FROM user_account WHERE {NAME_SEARCH_SQL} @@ to_tsquery('simple', :q)"), {"q": "ahmad:*"}))
    assert "ix_user_account_name_search" in plan, plan
    assert _find("ahmad") == {"mad@contoh.my"}
