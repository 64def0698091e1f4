"""Tickets: references, states, SLAs, who sees what, attachments, escalation, purge."""

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.clock import from_local
from ebiz.delivery.storage import get_storage
from ebiz.errors import Conflict, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.support import service
from ebiz.support.models import Ticket, TicketAttachment, TicketMessage
from tests.factories import make_user
from tests.payments.helpers import csrf, sign_in

from .helpers import PDF, PNG, open_ticket, upload


def _mails(to=None):
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        q = q.where(OutboxMessage.to_address == to)
    return db.session.scalars(q).all()


def _events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_reference_is_readable_and_unique(app):
    refs = {service.new_reference() for _ in range(500)}
    assert len(refs) == 500
    for ref in refs:
        assert ref.startswith("SR-") and len(ref) == 12 and ref[7] == "-"
        assert not set(ref[3:].replace("-", "")) & set("ILOU")
    # Read out on the phone: lower case, spaces, O for zero, I/L for one.
    assert service.normalise_reference("sr 7kq4 92xm") == "SR-7KQ4-92XM"
    assert service.normalise_reference("SR-7KQO-9ZXL") == "SR-7KQ0-9ZX1"


def test_customer_opens_a_ticket_about_a_payment_from_the_form(app, client):
    user = make_user()
    sign_in(client, user)
    page = client.get("/support/new?kind=payment&ref=EBZ-PAY-NOPE-NOPE")
    assert 'value="EBZ-PAY-NOPE-NOPE"' in page.get_data(as_text=True)
    token = csrf(client, "/support/new")
    r = client.post("/support/new", data={"csrf_token": token, "category": "payment", "subject": "Unpaid",
                                          "body": "Help", "linked_kind": "payment",
                                          "linked_ref": "EBZ-PAY-NOPE-NOPE"})
    assert r.status_code == 400  # someone else's or no such payment: said beside the field, nothing made
    assert "We could not find this item among yours." in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    r = client.post("/support/new", data={"csrf_token": token, "category": "payment", "subject": "Unpaid",
                                          "body": "Help", "files": (io.BytesIO(PDF), "bank.pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert r.headers["Location"].endswith(f"/support/t/{ticket.reference}")
    assert ticket.customer_id == user.id and ticket.status == "new" and ticket.email == user.email
    assert ticket.due_at == ticket.first_response_due and ticket.first_response_due < ticket.resolution_due
    html = client.get(f"/support/t/{ticket.reference}").get_data(as_text=True)
    assert "bank.pdf" in html and "Help" in html
    assert [m.subject for m in _mails(user.email)] == [f"[{ticket.reference}] We received your request"]


def test_nobody_sees_another_customers_ticket_or_attachment(app, client):
    owner, other = make_user(), make_user()
    ticket = open_ticket(owner, uploads=[upload()])
    att = db.session.scalar(select(TicketAttachment))
    sign_in(client, other)
    assert client.get(f"/support/t/{ticket.reference}").status_code == 404
    assert client.get(f"/support/t/{ticket.reference}/files/{att.token}").status_code == 404
    assert client.get("/support/").get_data(as_text=True).count(ticket.reference) == 0
    anonymous = app.test_client()
    assert anonymous.get(f"/support/t/{ticket.reference}").status_code == 404
    assert anonymous.get(f"/support/t/{ticket.reference}/files/{att.token}").status_code == 404
    mine = app.test_client()
    sign_in(mine, owner)
    r = mine.get(f"/support/t/{ticket.reference}/files/{att.token}")
    assert r.status_code == 200 and r.data == PDF
    r.close()
    # A reply posted to another's ticket changes nothing.
    r = client.post(f"/support/t/{ticket.reference}", data={"csrf_token": csrf(client, "/support/"), "body": "x"})
    assert r.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(TicketMessage)) == 1


def test_attachments_are_checked_by_content_and_size(app):
    user = make_user()
    with pytest.raises(ValidationError) as exc:
        service.open_ticket(customer=user, name="", email=None, category="downloads", subject="s", body="b",
                            uploads=[upload(b"MZ\x90\x00 not a pdf", "evil.pdf")])
    assert exc.value.field == "files"
    db.session.rollback()
    app.config["SUPPORT_ATTACHMENT_MAX_BYTES"] = 1000
    with pytest.raises(ValidationError):
        service.open_ticket(customer=user, name="", email=None, category="downloads", subject="s", body="b",
                            uploads=[upload(PNG + b"\x00" * 2000, "big.png")])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    # A good file before a refused one is not left behind in storage.
    before = sorted(p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file())
    with pytest.raises(ValidationError):
        service.open_ticket(customer=user, name="", email=None, category="downloads", subject="s", body="b",
                            uploads=[upload(PNG, "ok.png"), upload(b"GIF89a", "no.gif")])
    db.session.rollback()
    assert sorted(p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file()) == before
    ticket = open_ticket(user, uploads=[upload(PNG, "screen")])
    att = db.session.scalar(select(TicketAttachment))
    assert (att.content_type, att.filename, att.ticket_id) == ("image/png", "screen.png", ticket.id)
    assert get_storage().stat(att.storage_key) == len(PNG)


def test_identity_documents_only_for_the_assigned_agent_each_look_audited(app, client):
    customer = make_user()
    agent, other_agent = make_user(role=Role.SUPPORT), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer, category="account", subject="Lost my email")
    service.customer_reply(ticket, author=customer, body="My MyKad", uploads=[upload(PNG, "mykad.png", True)])
    service.assign(ticket, agent, agent)
    db.session.commit()
    att = db.session.scalar(select(TicketAttachment))
    url = f"/support/desk/t/{ticket.reference}/files/{att.token}"
    sign_in(client, other_agent)
    assert client.get(url).status_code == 403
    assert len(_events("support.identity_document.refused")) == 1
    assert _events("support.identity_document.viewed") == []
    theirs = app.test_client()
    sign_in(theirs, customer)  # handed over: not shown back, even to the customer
    assert theirs.get(f"/support/t/{ticket.reference}/files/{att.token}").status_code == 404
    mine = app.test_client()
    sign_in(mine, agent)
    r = mine.get(url)
    assert r.status_code == 200 and r.data == PNG
    r.close()
    mine.get(url).close()
    seen = _events("support.identity_document.viewed")
    assert len(seen) == 2 and {e.actor_id for e in seen} == {agent.id}


def test_purge_removes_identity_files_and_keeps_the_record(app):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer, category="account", uploads=[upload(PDF, "mykad.pdf", True), upload()])
    docs = db.session.scalars(select(TicketAttachment).order_by(TicketAttachment.id)).all()
    identity_key, plain_key = docs[0].storage_key, docs[1].storage_key
    assert service.purge() == (0, 0)  # too young
    later = datetime.utcnow() + timedelta(days=app.config["SUPPORT_IDENTITY_RETENTION_DAYS"] + 1)
    assert service.purge(later) == (1, 0)
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(TicketAttachment, docs[0].id)
    assert kept is not None and kept.purged_at is not None and kept.storage_key is None
    assert kept.filename == "mykad.pdf" and kept.sha256
    with pytest.raises(Exception):  # noqa: B017  (the file is gone from storage)
        get_storage().stat(identity_key)
    assert get_storage().stat(plain_key) == len(PDF)
    service.assign(ticket, agent, agent)
    db.session.commit()
    with pytest.raises(Exception):  # noqa: B017
        service.attachment_for(ticket, kept.token, agent, as_agent=True)
    # Seven years after closing, the ticket's content goes too; the row stays for the figures.
    service.agent_reply(ticket, agent, body="Done", next_status="resolved")
    service.transition(ticket, "close")
    db.session.commit()
    much_later = ticket.closed_at + timedelta(days=app.config["SUPPORT_TICKET_RETENTION_DAYS"] + 1)
    assert service.purge(much_later) == (0, 1)
    db.session.commit()
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.subject == "" and {m.body for m in ticket.messages} == {""}
    assert ticket.reference and ticket.category == "account"
    with pytest.raises(Exception):  # noqa: B017
        get_storage().stat(plain_key)


def test_states_follow_the_table_and_the_pause(app, monkeypatch):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    t0 = from_local(datetime(2026, 12, 1, 9, 0))  # Tuesday
    monkeypatch.setattr(service, "utcnow", lambda: t0)
    ticket = open_ticket(customer, category="payment")  # 2 h first response, 9 h resolution
    assert ticket.first_response_due == from_local(datetime(2026, 12, 1, 11, 0))
    assert ticket.resolution_due == from_local(datetime(2026, 12, 2, 9, 0))
    monkeypatch.setattr(service, "utcnow", lambda: t0 + timedelta(hours=1))
    service.agent_reply(ticket, agent, body="Which bank?", next_status="waiting")
    assert ticket.status == "waiting" and ticket.due_at is None and ticket.assignee_id == agent.id
    # The customer answers the next morning at 10:00: 7 + 2 = 9 working hours paused, added to Wed 09:00.
    monkeypatch.setattr(service, "utcnow", lambda: from_local(datetime(2026, 12, 2, 10, 0)))
    service.customer_reply(ticket, author=customer, body="Maybank")
    assert ticket.status == "open"
    assert ticket.resolution_due == from_local(datetime(2026, 12, 3, 9, 0))
    assert ticket.due_at == ticket.resolution_due
    service.agent_reply(ticket, agent, body="Fixed", next_status="resolved")
    assert ticket.status == "resolved"
    with pytest.raises(Conflict):
        service.transition(ticket, "ask_customer")
    # Reopened by a reply within 14 days; after 14 days a new ticket is asked for.
    monkeypatch.setattr(service, "utcnow", lambda: from_local(datetime(2026, 12, 10, 10, 0)))
    service.customer_reply(ticket, author=customer, body="Again")
    assert ticket.status == "open" and ticket.resolved_at is None
    service.agent_reply(ticket, agent, body="Fixed again", next_status="resolved")
    monkeypatch.setattr(service, "utcnow", lambda: from_local(datetime(2026, 12, 25, 10, 0)))
    with pytest.raises(Conflict):
        service.customer_reply(ticket, author=customer, body="And again")
    assert ticket.status == "resolved"
    db.session.commit()


def test_agent_reply_mails_the_customer_in_their_language_and_notes_stay_inside(app, client):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer, locale="ms")
    service.add_note(ticket, agent, body="Customer sounds upset; check bank file")
    service.agent_reply(ticket, agent, body="Kami sedang menyemak.", next_status="open")
    db.session.commit()
    mails = _mails(customer.email)
    assert len(mails) == 2
    assert "Kami sedang menyemak." in mails[1].body_text and "check bank file" not in mails[1].body_text
    assert "Permintaan anda" in mails[1].body_text  # the footer in Malay
    sign_in(client, customer)
    html = client.get(f"/support/t/{ticket.reference}").get_data(as_text=True)
    assert "Kami sedang menyemak." in html and "check bank file" not in html


def test_anonymous_ticket_waits_for_its_email_link(app, client):
    agent = make_user(role=Role.SUPPORT)
    token = csrf(client, "/support/new")
    r = client.post("/support/new", data={"csrf_token": token, "category": "account", "subject": "Cannot sign in",
                                          "body": "My old email is gone", "name": "Aminah",
                                          "email": "Aminah@Contoh.my"})
    assert r.status_code == 200 and "Check your email" in r.get_data(as_text=True)
    ticket = db.session.scalar(select(Ticket))
    assert ticket.email == "aminah@contoh.my" and ticket.email_confirmed_at is None and ticket.customer_id is None
    assert service.queue(agent) == []
    assert client.get(f"/support/t/{ticket.reference}").status_code == 404
    link = _mails("aminah@contoh.my")[0].body_text.split("/support/confirm/")[1].split()[0]
    assert client.get("/support/confirm/not-a-token").status_code == 400
    r = client.get(f"/support/confirm/{link}")
    assert r.status_code == 302
    assert [t.reference for t in service.queue(agent)] == [ticket.reference]
    assert client.get(f"/support/t/{ticket.reference}").status_code == 200  # this browser follows it now
    assert app.test_client().get(f"/support/t/{ticket.reference}").status_code == 404


def test_queue_is_sorted_by_sla_due_and_paused_last(app):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    slow = open_ticket(customer, category="applications")
    fast = open_ticket(customer, category="payment")
    waiting = open_ticket(customer, category="payment")
    service.agent_reply(waiting, agent, body="?", next_status="waiting")
    db.session.commit()
    assert [t.id for t in service.queue(agent)] == [fast.id, slow.id, waiting.id]
    assert [t.id for t in service.queue(agent, "mine")] == [waiting.id]


def test_merge_moves_the_thread_and_closes_the_duplicate(app):
    customer, agent, stranger = make_user(), make_user(role=Role.SUPPORT), make_user()
    first = open_ticket(customer, body="first")
    dup = open_ticket(customer, body="second")
    theirs = open_ticket(stranger, body="theirs")
    with pytest.raises(ValidationError):
        service.merge(dup, theirs.reference, agent)
    assert dup.status == "new"
    service.merge(dup, first.reference, agent)
    db.session.commit()
    db.session.expire_all()
    assert dup.status == "closed" and dup.merged_into_id == first.id
    assert {m.body for m in first.messages} >= {"first", "second"}


def test_rating_after_resolution_once(app, client):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer)
    with pytest.raises(Conflict):
        service.rate(ticket, customer, rating=5)
    service.agent_reply(ticket, agent, body="Done", next_status="resolved")
    db.session.commit()
    sign_in(client, customer)
    url = f"/support/t/{ticket.reference}"
    token = csrf(client, url)
    client.post(f"{url}/rate", data={"csrf_token": token, "rating": "9"})
    db.session.refresh(ticket)
    assert ticket.rating is None
    client.post(f"{url}/rate", data={"csrf_token": token, "rating": "4", "comment": "Quick"})
    client.post(f"{url}/rate", data={"csrf_token": token, "rating": "1"})
    db.session.refresh(ticket)
    assert (ticket.rating, ticket.rating_comment) == (4, "Quick")


def test_escalate_flags_reassigns_and_mails_the_lead_once(app):
    customer = make_user()
    slow_agent, spare = make_user(role=Role.SUPPORT), make_user(role=Role.SUPPORT)
    ticket = open_ticket(customer)
    service.assign(ticket, slow_agent, slow_agent)
    db.session.commit()
    assert service.escalate() == []
    later = ticket.due_at + timedelta(minutes=1)
    assert service.escalate(later) == [ticket.reference]
    db.session.commit()
    assert ticket.escalated_at is not None and ticket.assignee_id == spare.id
    lead = _mails(app.config["SUPPORT_TEAM_LEAD_EMAIL"])
    assert len(lead) == 1 and ticket.reference in lead[0].body_text
    assert service.escalate(later) == []
    db.session.commit()
    assert len(_mails(app.config["SUPPORT_TEAM_LEAD_EMAIL"])) == 1


def test_routing_gives_a_new_ticket_to_the_least_busy_agent_of_its_category(app, client):
    customer = make_user()
    busy, free, other = (make_user(role=Role.SUPPORT) for _ in range(3))
    admin = make_user(role=Role.ADMIN)
    unrouted = open_ticket(customer, category="payment")
    assert unrouted.assignee_id is None  # nobody handles payments yet
    sign_in(client, admin)
    token = csrf(client, "/support/desk/routing")
    client.post("/support/desk/routing", data={"csrf_token": token, f"r-{busy.id}": ["payment", "downloads"],
                                               f"r-{free.id}": "payment", f"r-{other.id}": "complaints"})
    assert service.routing_table() == {busy.id: {"payment", "downloads"}, free.id: {"payment"},
                                       other.id: {"complaints"}}
    first = open_ticket(customer, category="payment")
    second = open_ticket(customer, category="payment")
    third = open_ticket(customer, category="downloads")
    assert (first.assignee_id, second.assignee_id, third.assignee_id) == (busy.id, free.id, busy.id)
    # An anonymous ticket is routed once its email is confirmed, not before.
    anon = service.open_ticket(customer=None, name="A", email="a@contoh.my", category="complaints", subject="s",
                               body="b")
    assert anon.assignee_id is None
    token = service.make_token("support-confirm", {"t": anon.reference, "e": "a@contoh.my"})
    service.confirm_email(token)
    assert anon.assignee_id == other.id
    db.session.commit()
    agent_client = app.test_client()
    sign_in(agent_client, busy)
    assert agent_client.get("/support/desk/routing").status_code == 403  # administrators set routing


def test_opening_tickets_is_rate_limited_per_client(app, client):
    app.config["SUPPORT_OPEN_RATE_LIMIT"] = "2 per hour"
    token = csrf(client, "/support/new")
    data = {"csrf_token": token, "category": "account", "subject": "s", "body": "b", "name": "A",
            "email": "spam@contoh.my"}
    assert [client.post("/support/new", data=data).status_code for _ in range(3)] == [200, 200, 429]
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2
    assert len(_mails("spam@contoh.my")) == 2


def test_a_ticket_opened_from_a_download_links_it(app, client):
    from tests.delivery.helpers import bought_file

    user, _p, _g, ent, _f, _d = bought_file(size=100)
    sign_in(client, user)
    page = client.get("/downloads/").get_data(as_text=True)
    assert f"/support/new?kind=download&amp;ref={ent.ref}" in page
    form = client.get(f"/support/new?kind=download&ref={ent.ref}").get_data(as_text=True)
    assert '<option selected value="downloads">' in form or 'value="downloads" selected' in form
    r = client.post("/support/new", data={"csrf_token": csrf(client, "/support/new"), "category": "downloads",
                                          "subject": "Broken", "body": "Stops at 80%", "linked_kind": "download",
                                          "linked_ref": ent.ref.lower()})
    assert r.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert (ticket.linked_kind, ticket.linked_ref) == ("download", ent.ref.upper())
