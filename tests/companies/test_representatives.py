"""Company representatives: shown with their history; changed only by an administrator, and only on
the strength of the company's own support ticket assigned to that administrator (issue 16 §3)."""

from sqlalchemy import func, select

from ebiz.accounts.models import Kind, Role
from ebiz.audit.models import AuditEvent
from ebiz.companies.models import Representative
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.support import service as support
from ebiz.support.models import TicketAction, TicketMessage
from tests.factories import csrf_from, make_user, sign_in
from tests.support.helpers import open_ticket


def _company(**fields):
    return make_user(kind=Kind.COMPANY, company_reg_no="201901012345", company_name="Ukur Jaya Sdn. Bhd.",
                     full_name="Siti Aminah", rep_mykad="850615105523", **fields)


def _ticket(customer, assignee=None):
    """The customer's ticket asking for the change, assigned to `assignee` (if any)."""
    ticket = open_ticket(customer, category="counters", subject="Our representative left",
                         body="Siti left the company; Lim Ah Kow represents us now.")
    if assignee is not None:
        support.assign(ticket, assignee, assignee)
        db.session.commit()
    return ticket


def _change(client, company, **fields):
    url = f"/admin/users/{company.id}/representative"
    page = client.get(url)
    data = {"csrf_token": csrf_from(page.data), "full_name": "Lim Ah Kow", "mykad": "900101-14-5678",
            "reason": "Siti left the company", "ticket": ""}
    data.update(fields)
    return client.post(url, data=data)


def _nothing_changed(company):
    db.session.expire_all()
    assert (company.full_name, company.rep_mykad) == ("Siti Aminah", "850615105523")
    assert db.session.scalar(select(func.count(Representative.id))) == 0
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "company.representative_changed")) == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template == "company_representative_changed")) == 0
    assert db.session.scalar(select(func.count(TicketAction.id))) == 0
    assert db.session.scalar(select(func.count(TicketMessage.id)).where(TicketMessage.kind == "system")) == 0


def test_admin_changes_the_representative_on_the_companys_ticket(app):
    company = _company()
    company_client = app.test_client()
    sign_in(company_client, company)
    assert company_client.get("/account/").status_code == 200
    admin = make_user(role=Role.ADMIN)
    ticket = _ticket(company, admin)
    client = app.test_client()
    sign_in(client, admin)
    assert "Siti Aminah" in client.get(f"/admin/users/{company.id}/representative").get_data(as_text=True)
    r = _change(client, company, ticket=ticket.reference.lower().replace("-", " "))  # as read on the phone
    assert r.status_code == 302
    db.session.refresh(company)
    assert (company.full_name, company.rep_mykad) == ("Lim Ah Kow", "900101145678")
    rows = db.session.scalars(select(Representative).order_by(Representative.id)).all()
    assert [(r.full_name, r.until is None) for r in rows] == [("Siti Aminah", False), ("Lim Ah Kow", True)]
    assert rows[1].reference == ticket.reference and rows[1].changed_by_id == admin.id
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "company.representative_changed"))
    assert ev.actor_id == admin.id and ev.details["old_mykad"] == "850615105523"
    assert ev.details["ticket"] == ticket.reference and ev.details["new_mykad"] == "900101145678"
    action = db.session.scalar(select(TicketAction))
    assert (action.ticket_id, action.actor_id, action.action, action.target) == (
        ticket.id, admin.id, "company_representative", f"user:{company.id}")
    note = db.session.scalar(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id,
                                                         TicketMessage.kind == "system"))
    assert note.author_id == admin.id and "Lim Ah Kow" in note.body and "Siti left the company" in note.body
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "company_representative_changed"))
    assert mail.to_address == company.email and ticket.reference in mail.body_text
    # The old representative's session has ended.
    assert company_client.get("/account/").status_code == 302
    html = client.get(f"/admin/users/{company.id}/representative").get_data(as_text=True)
    assert "Siti left the company" in html and ticket.reference in html and "Registered with the account" in html


def test_the_change_refuses_to_run_without_its_ticket(app):
    company = _company()
    admin, other_admin, agent = make_user(role=Role.ADMIN), make_user(role=Role.ADMIN), make_user(role=Role.SUPPORT)
    unassigned = _ticket(company)
    someone_elses = _ticket(company, other_admin)
    agents = _ticket(company, agent)
    resolved = _ticket(company, admin)
    support.agent_reply(resolved, admin, body="Done.", next_status="resolved")
    db.session.commit()
    client = app.test_client()
    sign_in(client, admin)
    for ref in ("", "SR-0000-0000", unassigned.reference, someone_elses.reference, agents.reference,
                resolved.reference):
        r = _change(client, company, ticket=ref)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and 'id="ticket-error"' in html, ref
        if ref:
            assert "needs an active support ticket assigned to you" in html, ref
    _nothing_changed(company)


def test_another_customers_ticket_is_refused(app):
    company, other_company = _company(), make_user(kind=Kind.COMPANY, company_reg_no="201901054321",
                                                   company_name="Lain Sdn. Bhd.", rep_mykad="800101145678")
    admin = make_user(role=Role.ADMIN)
    person = make_user()
    client = app.test_client()
    sign_in(client, admin)
    for ticket in (_ticket(other_company, admin), _ticket(person, admin)):
        r = _change(client, company, ticket=ticket.reference)
        assert r.status_code == 400 and "This ticket belongs to another customer" in r.get_data(as_text=True)
    _nothing_changed(company)
    db.session.refresh(other_company)
    assert other_company.rep_mykad == "800101145678"


def test_a_change_needs_reason_ticket_and_a_valid_new_mykad(app):
    company = _company()
    admin = make_user(role=Role.ADMIN)
    ticket = _ticket(company, admin)
    client = app.test_client()
    sign_in(client, admin)
    for fields, field in ((dict(reason=""), "reason"), (dict(ticket=""), "ticket"),
                          (dict(mykad="12345"), "mykad"), (dict(mykad="850615105523"), "mykad"),
                          (dict(ticket="x" * 31), "ticket")):
        r = _change(client, company, **{"ticket": ticket.reference, **fields})
        assert r.status_code == 400 and f'id="{field}-error"' in r.get_data(as_text=True), fields
    _nothing_changed(company)


def test_only_an_administrator_changes_a_representative(app):
    company = _company()
    for role in (Role.SUPPORT, Role.COUNTER, Role.CUSTOMER):
        user = make_user(role=role)
        ticket = _ticket(company, user if role == Role.SUPPORT else None)  # even with the ticket assigned
        client = app.test_client()
        sign_in(client, user)
        page = client.get("/account/")
        r = client.post(f"/admin/users/{company.id}/representative",
                        data={"csrf_token": csrf_from(page.data), "full_name": "X", "mykad": "900101145678",
                              "reason": "r", "ticket": ticket.reference})
        assert r.status_code == 403
    _nothing_changed(company)


def test_an_administrator_takes_the_ticket_in_the_support_desk_and_acts_from_it(app):
    company = _company()
    admin = make_user(role=Role.ADMIN)
    ticket = _ticket(company)
    client = app.test_client()
    sign_in(client, admin)
    page = client.get(f"/support/desk/t/{ticket.reference}")
    assert f'<option value="{admin.id}">' in page.get_data(as_text=True)  # administrators are assignees
    r = client.post(f"/support/desk/t/{ticket.reference}/assign",
                    data={"csrf_token": csrf_from(page.data), "assignee": str(admin.id)})
    assert r.status_code == 302
    db.session.refresh(ticket)
    assert ticket.assignee_id == admin.id
    html = client.get(f"/support/desk/t/{ticket.reference}").get_data(as_text=True)
    assert 'data-testid="representative-action"' in html
    form = client.get(f"/admin/users/{company.id}/representative?ticket={ticket.reference}")
    assert f'value="{ticket.reference}"' in form.get_data(as_text=True)
    assert _change(client, company, ticket=ticket.reference).status_code == 302
    db.session.refresh(company)
    assert company.rep_mykad == "900101145678"
