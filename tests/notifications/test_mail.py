"""Mail over real SMTP (aiosmtpd on loopback): the reset email arrives and its link works;
a failed send stays in the outbox and `flask notifications retry` sends it later."""

import re

from aiosmtpd.controller import Controller
from sqlalchemy import select

from ebiz.accounts.passwords import verify_password
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from, make_user
from tests.notifications.helpers import Inbox
from tests.services import free_port

NEW = "Garisan-Kontur-Sungai-31"


def _forgot(client, address):
    page = client.get("/account/forgot")
    return client.post("/account/forgot", data={"csrf_token": csrf_from(page.data), "email": address})


def test_reset_email_arrives_over_smtp_and_its_link_resets_the_password(app, client, smtp):
    user = make_user()
    assert _forgot(client, user.email).status_code == 302
    assert len(smtp.messages) == 1
    rcpt, msg = smtp.messages[0]
    assert rcpt == [user.email] and msg["To"] == user.email
    body = msg.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/account/reset/\S+", body).group(0)
    path = link.split("localhost", 1)[1]
    page = client.get(path)
    r = client.post(path, data={"csrf_token": csrf_from(page.data), "password": NEW, "confirm": NEW})
    assert r.status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, NEW)
    assert db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.to_address == user.email)
                             .order_by(OutboxMessage.id).limit(1)) == "sent"


def test_failed_send_stays_pending_and_retry_sends_it(app, client):
    user = make_user()
    closed = free_port()  # nothing listens here
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed, MAIL_TIMEOUT=2)
    try:
        assert _forgot(client, user.email).status_code == 302  # the page works although mail is down
        msg = db.session.scalars(select(OutboxMessage)).one()
        db.session.refresh(msg)
        assert (msg.status, msg.attempts) == ("pending", 1) and msg.last_error
        inbox = Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            app.config["MAIL_PORT"] = port
            result = app.test_cli_runner().invoke(args=["notifications", "retry"])
            assert result.exit_code == 0 and "sent 1" in result.output
        finally:
            controller.stop()
        assert [rcpt for rcpt, _m in inbox.messages] == [[user.email]]
        db.session.rollback()  # end this test's read transaction: see what the command committed
        msg = db.session.get(OutboxMessage, msg.id)
        assert msg.status == "sent" and msg.attempts == 2
    finally:
        app.config.update(MAIL_SERVER="", MAIL_PORT=25, MAIL_TIMEOUT=10)
