"""Forgot/reset password and change of email: links that expire, work once and reveal nothing."""

import re

from sqlalchemy import delete, select, text

from ebiz.accounts.models import User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import PASSWORD, csrf_from, make_user, sign_in

NEW = "Kompas-Teodolit-Aras-42"


def _mails(to=None):
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        q = q.where(OutboxMessage.to_address == to)
    return db.session.scalars(q).all()


def _link(msg) -> str:
    return re.search(r"http://localhost(/\S+)", msg.body_text).group(1)


def _forgot(client, email):
    page = client.get("/account/forgot")
    return client.post("/account/forgot", data={"csrf_token": csrf_from(page.data), "email": email},
                       follow_redirects=True)


def _reset(client, path, password=NEW):
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_from(page.data), "password": password, "confirm": password})


def test_forgot_password_never_reveals_whether_the_account_exists(client):
    user = make_user()
    known = _forgot(client, user.email.upper()).get_data(as_text=True)
    unknown = _forgot(client, "nobody@contoh.my").get_data(as_text=True)
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731  (CSRF tokens differ)
    assert strip(known) == strip(unknown)
    assert [m.to_address for m in _mails()] == [user.email]


def test_reset_link_works_once(client):
    user = make_user()
    _forgot(client, user.email)
    path = _link(_mails(user.email)[0])
    assert path.startswith("/account/reset/")
    r = _reset(client, path)
    assert r.status_code == 302 and r.headers["Location"] == "/account/login"
    db.session.refresh(user)
    from ebiz.accounts.passwords import verify_password

    assert verify_password(user.password_hash, NEW)
    # Used: the same link is dead.
    r = _reset(client, path, "Another-Strong-Phrase-77")
    assert r.status_code == 400
    db.session.refresh(user)
    assert verify_password(user.password_hash, NEW)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.password_reset"))


def test_reset_link_dies_when_the_password_changes(client):
    user = make_user()
    _forgot(client, user.email)
    path = _link(_mails(user.email)[0])
    sign_in(client, user)
    page = client.get("/account/password")
    client.post("/account/password", data={"csrf_token": csrf_from(page.data), "current_password": PASSWORD,
                                           "new_password": NEW, "confirm": NEW})
    assert client.get(path).status_code == 400


def test_reset_link_expires(app, client):
    user = make_user()
    _forgot(client, user.email)
    path = _link(_mails(user.email)[0])
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    try:
        r = client.get(path)
        assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    finally:
        app.config["PASSWORD_RESET_MAX_AGE"] = 3600
    assert client.get(path[:-3] + "xyz").status_code == 400


def test_reset_refuses_a_weak_password_and_keeps_the_old_one(client):
    user = make_user()
    before = user.password_hash
    _forgot(client, user.email)
    r = _reset(client, _link(_mails(user.email)[0]), "password")
    assert r.status_code == 200 and 'id="password-error"' in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == before


def test_change_email_is_confirmed_by_the_new_address(app, client):
    user = make_user(email="lama@contoh.my")
    sign_in(client, user)
    page = client.get("/account/email")
    r = client.post("/account/email", data={"csrf_token": csrf_from(page.data), "new_email": "Baru@Contoh.my",
                                            "current_password": PASSWORD})
    assert r.status_code == 302
    db.session.refresh(user)
    assert user.email == "lama@contoh.my"  # the old address stays until confirmed
    confirm = _mails("baru@contoh.my")
    notice = _mails("lama@contoh.my")
    assert len(confirm) == 1 and len(notice) == 1 and "baru@contoh.my" in notice[0].body_text
    path = _link(confirm[0])
    other = app.test_client()  # the link works from any browser
    page = other.get(path)
    assert page.status_code == 200
    r = other.post(path, data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 302
    db.session.refresh(user)
    assert user.email == "baru@contoh.my"
    assert len(_mails("lama@contoh.my")) == 2  # told of the change
    # The link worked once.
    page = other.get(path)
    other.post(path, data={"csrf_token": csrf_from(page.data)})
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "account.email_changed")
                             .order_by(AuditEvent.id.desc()).limit(1))
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.email_changed")).all()) == 1


def test_change_email_needs_the_password(client):
    user = make_user()
    sign_in(client, user)
    page = client.get("/account/email")
    r = client.post("/account/email", data={"csrf_token": csrf_from(page.data), "new_email": "baru@contoh.my",
                                            "current_password": "not-my-password"})
    assert 'id="current_password-error"' in r.get_data(as_text=True)
    assert _mails() == []
    assert db.session.get(User, user.id).email == user.email


def test_change_to_a_taken_address_answers_as_any_other_and_tells_that_address(client):
    """Not an oracle: the page says the same for a free and a taken address; the taken one's mailbox
    is told (no link), and nothing changes."""
    user = make_user()
    make_user(email="taken@contoh.my")
    sign_in(client, user)
    answers = []
    for new in ("TAKEN@contoh.my", "baru@contoh.my"):
        page = client.get("/account/email")
        r = client.post("/account/email", data={"csrf_token": csrf_from(page.data), "new_email": new,
                                                "current_password": PASSWORD}, follow_redirects=True)
        html = r.get_data(as_text=True)
        html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)  # a CSRF token carries the second it was made
        answers.append((r.status_code, html.replace(new.lower(), "ADDRESS")))
    assert answers[0] == answers[1]
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.to_address, m.template) for m in mails] == [
        ("taken@contoh.my", "email_change_taken"), ("baru@contoh.my", "email_change_confirm"),
        (user.email, "email_change_notice")]
    assert "/account/email/confirm/" not in mails[0].body_text
    assert db.session.get(User, user.id).email == user.email


def _request_change(client, new):
    page = client.get("/account/email")
    r = client.post("/account/email", data={"csrf_token": csrf_from(page.data), "new_email": new,
                                            "current_password": PASSWORD})
    assert r.status_code == 302
    return _link(_mails(new)[-1])


def test_the_confirmation_page_names_the_address_being_confirmed(app, client):
    user = make_user(email="lama@contoh.my")
    sign_in(client, user)
    path = _request_change(client, "baru@contoh.my")
    html = app.test_client().get(path).get_data(as_text=True)
    said = re.search(r'data-testid="confirm-email-address">([^<]*)<', html).group(1)
    assert "baru@contoh.my" in said and "lama@contoh.my" in said
    # A used or forged link says so at once, instead of offering a button that cannot work.
    assert app.test_client().get(path + "x").status_code == 400


def test_pruning_the_audit_trail_does_not_revive_a_used_email_change_link(app, client):
    """The change count lives on the account, not in the audit events."""
    user = make_user(email="asal@contoh.my")
    sign_in(client, user)
    first = _request_change(client, "baru@contoh.my")
    client.post(first, data={"csrf_token": csrf_from(client.get(first).data)})
    second = _request_change(client, "asal@contoh.my")
    client.post(second, data={"csrf_token": csrf_from(client.get(second).data)})
    db.session.expire_all()
    assert (db.session.get(User, user.id).email, db.session.get(User, user.id).email_change_count) == (
        "asal@contoh.my", 2)
    if db.engine.dialect.name == "postgresql":  # the append-only trigger: as an archive job run by the owner
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    db.session.execute(delete(AuditEvent))  # an archive job prunes the trail
    db.session.commit()
    assert client.get(first).status_code == 400
    client.post(first, data={"csrf_token": csrf_from(client.get("/account/email").data)})
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "asal@contoh.my"


def test_forgot_password_mails_to_one_address_are_limited_whatever_the_ip(app):
    app.config.update(REGISTER_RATE_LIMIT_EMAIL="2 per hour")
    make_user(email="siti@contoh.my")
    for n in range(3):
        client = app.test_client()
        page = client.get("/account/forgot")
        r = client.post("/account/forgot", data={"csrf_token": csrf_from(page.data), "email": "Siti@contoh.my"},
                        environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"})
        assert r.status_code == (302 if n < 2 else 429), n
    assert len(_mails("siti@contoh.my")) == 2
