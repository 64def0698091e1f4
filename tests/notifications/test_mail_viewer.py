"""The development mail viewer (/dev/mail, issue 11 §4): the outbox for signed-in staff, where it is
switched on (development); a 404 in production and testing unless it is."""

from config import DevelopmentConfig, ProductionConfig, TestingConfig
from ebiz.accounts.models import Role
from ebiz.extensions import db
from ebiz.notifications.service import queue_mail
from tests.factories import login_session, make_user


def _mail(to="siti@contoh.my"):
    msg = queue_mail(to, "Reset your eBiz password", "password_reset", user=make_user(email=to),
                     link="http://localhost/account/reset/abc", minutes=60)
    db.session.commit()
    return msg


def test_it_is_on_in_development_and_off_elsewhere_unless_set():
    assert DevelopmentConfig.MAIL_VIEWER_ENABLED is True
    assert TestingConfig.MAIL_VIEWER_ENABLED is False and ProductionConfig.MAIL_VIEWER_ENABLED is False


def test_off_it_is_a_404_even_for_staff(app, client):
    msg = _mail()
    login_session(client, make_user(role=Role.ADMIN))
    assert 'data-testid="nav-dev-mail"' not in client.get("/admin/").get_data(as_text=True)
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{msg.id}").status_code == 404


def test_staff_list_the_outbox_and_read_each_message(app, client):
    app.config["MAIL_VIEWER_ENABLED"] = True
    msg = _mail()
    login_session(client, make_user(role=Role.COUNTER))
    html = client.get("/dev/mail/").get_data(as_text=True)
    assert 'data-testid="nav-dev-mail"' in html
    assert "siti@contoh.my" in html and "Reset your eBiz password" in html and f"/dev/mail/{msg.id}" in html
    r = client.get(f"/dev/mail/{msg.id}")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'href="http://localhost/account/reset/abc"' in body  # links can be followed
    assert "no-store" in r.headers["Cache-Control"]
    assert client.get(f"/dev/mail/{msg.id + 1000}").status_code == 404


def test_customers_and_strangers_do_not_see_it(app, client):
    app.config["MAIL_VIEWER_ENABLED"] = True
    msg = _mail()
    r = client.get(f"/dev/mail/{msg.id}")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]
    login_session(client, make_user())
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{msg.id}").status_code == 404


def test_staff_without_their_second_factor_are_sent_to_it(app, client):
    app.config["MAIL_VIEWER_ENABLED"] = True
    login_session(client, make_user(role=Role.ADMIN), mfa=False)
    r = client.get("/dev/mail/")
    assert r.status_code == 302 and "/account/mfa" in r.headers["Location"]
