"""Migration's human steps go through the support desk (issues 15 §2-3, 16 §3): "my old email is no
longer in use" opens a ticket linked to the old account; an administrator corrects the email only on
that ticket, assigned to them."""

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from ebiz.migration import views
from ebiz.migration.models import LegacyCustomer, MigrationSupportRequest
from ebiz.notifications.models import OutboxMessage
from ebiz.support import service as support
from ebiz.support.models import Ticket, TicketAction, TicketMessage
from tests.factories import csrf_from, login_session, make_user
from tests.races import race

from .helpers import ask_url, link_path, request_link

AMINAH_MYKAD = "850312-14-5566"


def _legacy(legacy_id):
    db.session.expire_all()
    return db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == legacy_id))


def _say_no(client, login=AMINAH_MYKAD):
    url = ask_url(client, login)
    page = client.get(url)
    return client.post(url + "/no", data={"csrf_token": csrf_from(page.data)})


def _count(model):
    return db.session.scalar(select(func.count(model.id)))


def test_no_opens_a_ticket_staff_can_reach_and_shows_its_reference(app, client, imported):
    mails = _count(OutboxMessage)
    r = _say_no(client)
    assert r.status_code == 200
    ticket = db.session.scalar(select(Ticket))
    assert ticket.reference.encode() in r.data  # to quote on the phone or at a counter
    assert ticket.category == "account" and ticket.status == "new" and ticket.customer_id is None
    assert (ticket.linked_kind, ticket.linked_ref) == ("legacy", "L-100001")
    assert ticket.channel == support.NO_MAIL_CHANNEL and "L-100001" in ticket.messages[0].body
    req = db.session.scalar(select(MigrationSupportRequest))
    assert req.ticket_ref == ticket.reference and req.status == "open"
    assert _count(OutboxMessage) == mails  # nothing is mailed to the dead address
    agent = make_user(role=Role.SUPPORT)
    assert ticket in support.queue(agent)  # in the queue at once: no address to confirm
    assert support.find_tickets("L-100001") == [ticket]
    # An agent's reply is recorded on the ticket but never mailed.
    support.assign(ticket, agent, agent)
    support.agent_reply(ticket, agent, body="Please call us.")
    db.session.commit()
    assert _count(OutboxMessage) == mails
    # Saying "no" again answers with the same ticket.
    r = _say_no(app.test_client())
    assert ticket.reference.encode() in r.data
    assert _count(Ticket) == 1 and _count(MigrationSupportRequest) == 1


def test_no_is_rate_limited(app, client, imported):
    app.config["MIGRATION_LINK_RATE_LIMIT"] = "2 per hour"
    _say_no(client)
    _say_no(client)
    assert _say_no(client).status_code == 429
    assert _count(Ticket) == 1


@pytest.mark.postgres_only("a true race needs PostgreSQL's row locks")
@pytest.mark.usefixtures("imported")
def test_two_noes_at_once_open_one_ticket(app, client):
    token = ask_url(client, AMINAH_MYKAD).rsplit("/", 1)[1]
    refs = []

    def say_no(tab):
        refs.append(views.report_email_unused(token, ip=None, locale="en"))

    assert race(app, say_no, [(1,), (2,)]) == ["ok", "ok"]
    db.session.expire_all()
    assert _count(Ticket) == 1 and _count(MigrationSupportRequest) == 1
    ticket = db.session.scalar(select(Ticket))
    assert refs == [ticket.reference] * 2
    assert db.session.scalar(select(MigrationSupportRequest.ticket_ref)) == ticket.reference


def test_the_dashboard_lists_the_request_by_its_ticket(app, client, imported):
    _say_no(app.test_client())
    ticket = db.session.scalar(select(Ticket))
    login_session(client, make_user(role=Role.ADMIN))
    page = client.get("/migration/admin").get_data(as_text=True)
    assert f'href="/support/desk/t/{ticket.reference}"' in page


def _admin_with_ticket(app, client, *, assign=True):
    """Aminah says no (a ticket linked to her old account), the administrator takes the ticket."""
    _say_no(app.test_client())
    admin = make_user(role=Role.ADMIN)
    ticket = db.session.scalar(select(Ticket))
    if assign:
        support.assign(ticket, admin, admin)
        db.session.commit()
    login_session(client, admin)
    return admin, ticket


def _correct(client, pk, ticket_ref, email="aminah.baru@example.my", reason="MyKad seen at HQ counter"):
    page = client.get(f"/migration/admin/{pk}")
    return client.post(f"/migration/admin/{pk}", data={"csrf_token": csrf_from(page.data), "email": email,
                                                        "reason": reason, "ticket": ticket_ref})


def test_correct_email_on_the_accounts_ticket(app, client, imported):
    old_link = request_link(app.test_client(), "aminah.hassan@example.my")
    admin, ticket = _admin_with_ticket(app, client)
    # The ticket's page leads to the account's correction form with the ticket filled in.
    page = client.get(f"/support/desk/t/{ticket.reference}").get_data(as_text=True)
    assert "/migration/admin/old/L-100001?ticket=" in page
    r = client.get(f"/migration/admin/old/L-100001?ticket={ticket.reference}", follow_redirects=True)
    assert f'value="{ticket.reference}"' in r.get_data(as_text=True)
    mails = _count(OutboxMessage)
    pk = _legacy("L-100001").id
    r = _correct(client, pk, ticket.reference.lower())  # as typed
    assert r.status_code == 302
    row = _legacy("L-100001")
    assert row.email == "aminah.baru@example.my" and row.email_status == "corrected"
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "migration.email_corrected"))
    assert ev.actor_id == admin.id and ev.details["reason"] == "MyKad seen at HQ counter"
    assert ev.details["ticket"] == ticket.reference
    action = db.session.scalar(select(TicketAction))
    assert (action.ticket_id, action.actor_id, action.action) == (ticket.id, admin.id, "legacy_email_correction")
    assert action.target == "legacy:L-100001"
    said = db.session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id,
                                                          TicketMessage.author_id == admin.id)).all()
    assert len(said) == 1 and said[0].kind == "system" and "L-100001" in said[0].body
    assert "a***u@e***.my" in said[0].body
    assert _count(OutboxMessage) == mails + 1
    mail = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail.to_address == "aminah.baru@example.my" and mail.template == "migration_link"
    assert app.test_client().get(link_path(old_link)).status_code == 400  # the link to the old address died
    req = db.session.scalar(select(MigrationSupportRequest))
    assert req.status == "closed" and req.ticket_ref == ticket.reference


def _nothing_happened(mails):
    row = _legacy("L-100001")
    assert row.email == "aminah.hassan@example.my" and row.email_status == "invalid"
    assert _count(OutboxMessage) == mails
    assert _count(TicketAction) == 0
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action.in_(("migration.email_corrected", "migration.link_sent")))) == 0
    assert db.session.scalar(select(func.count(TicketMessage.id)).where(TicketMessage.kind == "system",
                                                                       TicketMessage.author_id.is_not(None))) == 0


def test_correct_email_refuses_without_the_ticket(app, client, imported):
    admin, ticket = _admin_with_ticket(app, client)
    mails = _count(OutboxMessage)
    pk = _legacy("L-100001").id
    for ref in ("", "SR-0000-0000"):
        r = _correct(client, pk, ref)
        assert r.status_code == 200, ref
        assert "needs an active support ticket assigned to you" in r.get_data(as_text=True), ref
    _nothing_happened(mails)


def test_correct_email_refuses_a_ticket_not_assigned_to_the_administrator(app, client, imported):
    admin, ticket = _admin_with_ticket(app, client, assign=False)
    mails = _count(OutboxMessage)
    pk = _legacy("L-100001").id
    r = _correct(client, pk, ticket.reference)  # unassigned
    assert "needs an active support ticket assigned to you" in r.get_data(as_text=True)
    agent = make_user(role=Role.SUPPORT)
    support.assign(ticket, agent, agent)  # someone else's
    db.session.commit()
    r = _correct(client, pk, ticket.reference)
    assert "needs an active support ticket assigned to you" in r.get_data(as_text=True)
    _nothing_happened(mails)


def test_correct_email_refuses_another_accounts_ticket(app, client, imported):
    admin, ticket = _admin_with_ticket(app, client)
    # Another old account's "no" ticket, and a customer's own ticket, both assigned to the administrator.
    _say_no(app.test_client(), "820715105123")
    other = db.session.scalar(select(Ticket).where(Ticket.id != ticket.id))
    customer = make_user()
    own = support.open_ticket(customer=customer, name="", email=None, category="account", subject="Old account",
                              body="My old account L-100001", locale="en")
    for t in (other, own):
        support.assign(t, admin, admin)
    db.session.commit()
    mails = _count(OutboxMessage)
    pk = _legacy("L-100001").id
    for t in (other, own):
        r = _correct(client, pk, t.reference)
        assert r.status_code == 200
        assert "use the ticket linked to this account" in r.get_data(as_text=True)
    _nothing_happened(mails)


def test_correct_email_still_needs_a_reason(app, client, imported):
    admin, ticket = _admin_with_ticket(app, client)
    mails = _count(OutboxMessage)
    r = _correct(client, _legacy("L-100001").id, ticket.reference, reason="")
    assert r.status_code == 200 and "Say why" in r.get_data(as_text=True)
    _nothing_happened(mails)
