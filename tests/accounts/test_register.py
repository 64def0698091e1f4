"""Registration of the three kinds of customer, through the page."""

from sqlalchemy import func, select

from ebiz.accounts.models import Kind, Tier, User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from tests.factories import PASSWORD, csrf_from, make_user

STRONG = "Peta-Ukur-Tanah-2026"


def _post(client, **fields):
    page = client.get("/account/register")
    data = {"csrf_token": csrf_from(page.data), "kind": "individual", "full_name": "Siti Aminah",
            "email": "siti@contoh.my", "password": STRONG, "confirm": STRONG}
    data.update(fields)
    return client.post("/account/register", data=data)


def _count():
    return db.session.scalar(select(func.count()).select_from(User))


def test_individual_registers_and_is_signed_in(client):
    r = _post(client, mykad="900101-14-5678", email="Siti@Contoh.MY")
    assert r.status_code == 302
    user = db.session.scalar(select(User))
    assert (user.email, user.mykad, user.kind, user.tier) == ("siti@contoh.my", "900101145678", Kind.INDIVIDUAL,
                                                              Tier.REGULAR)
    assert user.password_hash.startswith("$argon2id$") and STRONG not in user.password_hash
    assert client.get("/account/").status_code == 200  # signed in at once: no activation step
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.registered"))


def test_foreigner_and_company(client):
    assert _post(client, kind="foreigner", passport_no="k1234567", nationality="GB").status_code == 302
    client.post("/account/logout", data={"csrf_token": csrf_from(client.get("/account/").data)})
    r = _post(client, kind="company", email="wakil@ukur.my", company_reg_no="2019-01-012345",
              company_name="Ukur Tepat Sdn. Bhd.", rep_mykad="880808-08-5566", full_name="Wakil Syarikat")
    assert r.status_code == 302
    f = db.session.scalar(select(User).where(User.kind == Kind.FOREIGNER))
    c = db.session.scalar(select(User).where(User.kind == Kind.COMPANY))
    assert (f.passport_no, f.nationality, f.mykad) == ("K1234567", "GB", None)
    assert (c.company_reg_no, c.rep_mykad, c.company_name) == ("201901012345", "880808085566", "Ukur Tepat Sdn. Bhd.")


def test_only_the_chosen_kind_is_checked(client):
    # Without JavaScript every field is posted; the company fields are ignored for an individual.
    r = _post(client, mykad="900101145678", company_reg_no="nonsense", passport_no="?")
    assert r.status_code == 302
    assert db.session.scalar(select(User.company_reg_no)) is None


def test_bad_input_is_shown_beside_each_field_and_nothing_is_written(client):
    r = _post(client, kind="company", company_reg_no="201999012345", rep_mykad="901301145678", company_name="",
              email="not-an-email", password="password1", confirm="password1")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for field in ("company_reg_no", "rep_mykad", "company_name", "email", "password"):
        assert f'id="{field}-error"' in html, field
    assert _count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_weak_password_uses_the_users_own_name(client):
    r = _post(client, mykad="900101145678", full_name="Kamarulzaman Ibrahim",
              password="kamarulzaman1990", confirm="kamarulzaman1990")
    assert 'id="password-error"' in r.get_data(as_text=True)
    r = _post(client, mykad="900101145678", password="Short1!", confirm="Short1!")
    assert 'id="password-error"' in r.get_data(as_text=True)
    assert _count() == 0


def test_uniqueness_errors_beside_the_field(client):
    make_user(email="taken@contoh.my", mykad="900101145678")
    r = _post(client, email="TAKEN@contoh.my", mykad="900101-14-5678")
    html = r.get_data(as_text=True)
    assert 'id="email-error"' in html and 'id="mykad-error"' in html
    make_user(kind=Kind.FOREIGNER, passport_no="K7654321")
    r = _post(client, kind="foreigner", email="new@contoh.my", passport_no="k7654321", nationality="SG")
    assert 'id="passport_no-error"' in r.get_data(as_text=True)
    assert _count() == 2


def test_malay_by_default_english_on_switch(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "ms")  # the site's default (see conftest.py)
    r = _post(client, mykad="abc")
    assert '<html lang="ms">' in r.get_data(as_text=True)
    page = client.get("/account/register")
    r = client.post("/language", data={"csrf_token": csrf_from(page.data), "lang": "en", "next": "/account/register"})
    assert r.status_code == 302 and r.headers["Location"] == "/account/register"
    r = _post(client, mykad="abc")
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html and 'id="mykad-error"' in html and "A MyKad number has 12 digits" in html
    assert _count() == 0


def test_password_is_never_kept_in_the_page(client):
    r = _post(client, mykad="bad", password=PASSWORD, confirm=PASSWORD)
    assert PASSWORD not in r.get_data(as_text=True)


def test_every_problem_is_shown_on_the_first_submit(client):
    """A bad MyKad, a weak password and a differing repeat: all three beside their fields at once."""
    r = _post(client, mykad="900101-14-567", password="abc123", confirm="abc124")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for field in ("mykad", "password", "confirm"):
        assert f'id="{field}-error"' in html, field
    assert "12 digits" in html or "12 digit" in html
    assert _count() == 0
