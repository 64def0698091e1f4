"""Registration of the three kinds of customer, through the page."""

import re

from sqlalchemy import func, select

from ebiz.accounts.models import Kind, Tier, User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
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


def _link(to: str) -> str:
    """The path of the registration link last mailed to `to`."""
    body = db.session.scalars(select(OutboxMessage.body_text).where(OutboxMessage.to_address == to)
                              .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/account/register/confirm/\S+)", body).group(1)


def _confirm(client, to: str):
    path = _link(to)
    page = client.get(path)
    assert page.status_code == 200 and to in page.get_data(as_text=True)  # says which address
    return client.post(path, data={"csrf_token": csrf_from(page.data)})


def test_individual_registers_confirms_by_the_emailed_link_and_is_welcomed(client):
    r = _post(client, mykad="900101-14-5678", email="Siti@Contoh.MY")
    assert r.status_code == 302 and r.headers["Location"] == "/account/register/sent"
    assert "We sent an email to Siti@Contoh.MY" in client.get("/account/register/sent").get_data(as_text=True)
    user = db.session.scalar(select(User))
    assert (user.email, user.mykad, user.kind, user.tier) == ("siti@contoh.my", "900101145678", Kind.INDIVIDUAL,
                                                              Tier.REGULAR)
    assert user.password_hash.startswith("$argon2id$") and STRONG not in user.password_hash
    assert user.email_confirmation_pending
    assert client.get("/account/").status_code == 302  # not signed in before the link is followed
    # Signing in with the right password before the link: refused like a wrong one (not an oracle).
    r = _sign_in(client, "siti@contoh.my", STRONG)
    assert r.status_code == 200 and "is not correct" in r.get_data(as_text=True)
    r = _confirm(client, "siti@contoh.my")
    assert r.status_code == 302 and r.headers["Location"] == "/account/"
    html = client.get("/account/").get_data(as_text=True)
    assert "Welcome to eBiz. Your account is ready." in html  # the welcome survives the fresh session
    db.session.expire_all()
    assert not db.session.get(User, user.id).email_confirmation_pending
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "account.registered" in actions and "account.registration_confirmed" in actions
    # The link is used up; the password now signs in.
    assert client.get(_link("siti@contoh.my")).status_code == 400
    client.post("/account/logout", data={"csrf_token": csrf_from(html)})
    assert _sign_in(client, "siti@contoh.my", STRONG).status_code == 302


def _sign_in(client, login, password):
    page = client.get("/account/login")
    return client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                               "password": password})


def test_foreigner_and_company(client):
    assert _post(client, kind="foreigner", passport_no="k1234567", nationality="GB").status_code == 302
    r = _post(client, kind="company", email="wakil@ukur.my", company_reg_no="2019-01-012345",
              company_name="Ukur Tepat Sdn. Bhd.", rep_mykad="880808-08-5566", full_name="Wakil Syarikat")
    assert r.status_code == 302
    f = db.session.scalar(select(User).where(User.kind == Kind.FOREIGNER))
    c = db.session.scalar(select(User).where(User.kind == Kind.COMPANY))
    assert (f.passport_no, f.nationality, f.mykad) == ("K1234567", "GB", None)
    assert (c.company_reg_no, c.rep_mykad, c.company_name) == ("201901012345", "880808085566", "Ukur Tepat Sdn. Bhd.")
    assert _confirm(client, "wakil@ukur.my").status_code == 302
    assert client.get("/account/").status_code == 200


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


def _answer(client, **fields):
    """What the registrant sees: the redirect and the page it leads to."""
    r = _post(client, **fields)
    sent = client.get(r.headers.get("Location", "/account/register"))
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", sent.get_data(as_text=True))
    return r.status_code, r.headers.get("Location"), html.replace(fields["email"], "E")


def test_a_taken_email_or_identity_number_answers_as_a_new_registration_and_tells_the_mailboxes(app):
    holder = make_user(email="taken@contoh.my", mykad="900101145678")
    make_user(kind=Kind.FOREIGNER, passport_no="K7654321", email="pasport@contoh.my")
    before = _count()
    new = _answer(app.test_client(), email="baru@contoh.my", mykad="900101145600")
    taken_email = _answer(app.test_client(), email="TAKEN@contoh.my", mykad="900101145601")
    taken_mykad = _answer(app.test_client(), email="lain@contoh.my", mykad="900101-14-5678")
    taken_passport = _answer(app.test_client(), kind="foreigner", email="asing@contoh.my", passport_no="k7654321",
                             nationality="SG")
    assert new[0] == 302 and new == taken_email == taken_mykad == taken_passport  # the form tells nothing
    assert _count() == before + 1  # only the new one
    mails = [(m.to_address, m.template) for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert mails == [("baru@contoh.my", "registration_confirm"),
                     ("taken@contoh.my", "registration_existing"),
                     ("lain@contoh.my", "registration_identity_taken"), (holder.email, "registration_identity_notice"),
                     ("asing@contoh.my", "registration_identity_taken"), ("pasport@contoh.my",
                                                                          "registration_identity_notice")]
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "registration_existing"))
    assert "/account/forgot" in existing.body_text and "/confirm/" not in existing.body_text
    taken = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == "lain@contoh.my"))
    assert "900101" not in taken.body_text and holder.email not in taken.body_text  # nothing of the holder's


def test_registering_again_with_an_address_still_waiting_sends_no_link(client):
    """Whoever registered first chose the password: the mailbox gets the "forgot" way in, not a link."""
    _post(client, email="baru@contoh.my", mykad="900101145600")
    _post(client, email="baru@contoh.my", mykad="900101145601", password="Lain-Kata-Laluan-99",
          confirm="Lain-Kata-Laluan-99")
    assert _count() == 1
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.template for m in mails] == ["registration_confirm", "registration_existing"]
    assert "/account/register/confirm/" not in mails[1].body_text and "/account/forgot" in mails[1].body_text


def test_registration_is_limited_per_identity_number_per_email_and_per_ip(app):
    app.config.update(REGISTER_RATE_LIMIT_IP="4 per hour", REGISTER_RATE_LIMIT_IDENTITY="2 per hour",
                      REGISTER_RATE_LIMIT_EMAIL="2 per hour")
    far = {"environ_base": {"REMOTE_ADDR": "10.0.0.%d"}}

    def post(ip, **fields):
        client = app.test_client()
        page = client.get("/account/register")
        data = {"csrf_token": csrf_from(page.data), "kind": "individual", "full_name": "Siti Aminah",
                "password": STRONG, "confirm": STRONG, **fields}
        return client.post("/account/register", data=data,
                           environ_base={"REMOTE_ADDR": far["environ_base"]["REMOTE_ADDR"] % ip})

    # One MyKad tried from many addresses and mailboxes: the third try is refused.
    assert post(1, email="a1@contoh.my", mykad="900101145678").status_code == 302
    assert post(2, email="a2@contoh.my", mykad="900101-14-5678").status_code == 302
    r = post(3, email="a3@contoh.my", mykad="900101145678")
    assert r.status_code == 429 and "Retry-After" in r.headers
    # One mailbox, many numbers.
    assert post(4, email="b@contoh.my", mykad="900101145001").status_code == 302
    assert post(5, email="B@contoh.my", mykad="900101145002").status_code == 302
    assert post(6, email="b@contoh.my", mykad="900101145003").status_code == 429
    # One address, many mailboxes and numbers; mistakes the form points out cost nothing.
    for n in range(3):
        assert post(7, email=f"c{n}@contoh.my", mykad="bad").status_code == 200
    for n in range(4):
        assert post(8, email=f"d{n}@contoh.my", mykad=f"90010114510{n}").status_code == 302
    assert post(8, email="d9@contoh.my", mykad="900101145109").status_code == 429
    assert _count() == 1 + 1 + 4  # nothing written by a refused try (a2 and B: taken, told by mail)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_address.in_(["a3@contoh.my", "d9@contoh.my"]))) == 0


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
