"""Walking the migration link flow in tests: the ask page, the emailed link, the form."""

import re

from sqlalchemy import select

from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import csrf_from


def ask_url(client, login: str) -> str:
    """Sign in with an old identifier: the ask page's URL."""
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": login,
                                             "password": "whatever-it-was"})
    assert r.status_code == 302, r.data[:500]
    assert "/migration/ask/" in r.headers["Location"]
    return r.headers["Location"]


def request_link(client, login: str) -> str:
    """Ask for a link by sign-in and Yes; the link from the mail written to the outbox."""
    url = ask_url(client, login)
    page = client.get(url)
    r = client.post(url + "/yes", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 200, r.data[:500]
    return last_link()


def last_link() -> str:
    msg = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "migration_link")
                             .order_by(OutboxMessage.id.desc())).first()
    assert msg is not None, "no migration mail"
    return re.search(r"https?://\S+/migration/link/\S+", msg.body_text).group(0)


def link_path(link: str) -> str:
    return link[link.index("/migration/link/"):]


def submit_link(client, link: str, **fields):
    path = link_path(link)
    page = client.get(path)
    data = {"csrf_token": csrf_from(page.data), "full_name": "Aminah binti Hassan", "phone": "+60 12-345 6789",
            "address": "1 Jalan Baru", "password": "Peta-Lama-Tanah-Rata-77", "confirm": "Peta-Lama-Tanah-Rata-77",
            "accept_terms": "y"}
    data.update(fields)
    return client.post(path, data=data)
