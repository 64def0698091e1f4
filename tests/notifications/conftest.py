"""A real SMTP server (aiosmtpd) on loopback for the mail tests."""

import pytest
from aiosmtpd.controller import Controller

from tests.notifications.helpers import Inbox
from tests.services import free_port


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    old = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield inbox
    controller.stop()
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = old
