"""Account actions backed by a ticket: each refuses to run without its (active, assigned) ticket."""

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.errors import ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.payments.models import IntentStatus
from ebiz.support import service
from ebiz.support.models import TicketAction
from tests.delivery.helpers import bought_file
from tests.factories import make_user
from tests.payments.helpers import csrf, go_to_gateway, sign_in, start_topup, submit_gateway

from .helpers import open_ticket


def _assigned(customer, agent, **kw):
    ticket = open_ticket(customer, **kw)
    service.assign(ticket, agent, agent)
    db.session.commit()
    return ticket


def _allowance(ent):
    db.session.expire(ent)
    return ent.downloads_allowed, ent.expires_at


def test_download_allowance_refuses_without_its_ticket(app):
    user, _p, _g, ent, _f, _d = bought_file(size=1000)
    agent, other_agent = make_user(role=Role.SUPPORT), make_user(role=Role.SUPPORT)
    before = _allowance(ent)
    unassigned = open_ticket(user, category="downloads")
    someone_elses = _assigned(make_user(), agent, category="downloads")
    theirs = _assigned(user, other_agent, category="downloads")
    for ref in (None, "", "SR-0000-0000", unassigned.reference, theirs.reference):
        with pytest.raises(service.TicketRequired):
            service.adjust_download(ref, agent, entitlement_ref=ent.ref, add_downloads=2, reason="lost file")
        db.session.rollback()
    with pytest.raises(ValidationError):  # the ticket is another customer's
        service.adjust_download(someone_elses.reference, agent, entitlement_ref=ent.ref, add_downloads=2,
                                reason="lost file")
    db.session.rollback()
    assert _allowance(ent) == before
    assert db.session.scalar(select(func.count()).select_from(TicketAction)) == 0
    ticket = _assigned(user, agent, category="downloads")
    service.adjust_download(ticket.reference.lower(), agent, entitlement_ref=ent.ref, add_downloads=2,
                            extend_days=3, reason="link expired while travelling")
    db.session.commit()
    assert _allowance(ent)[0] == before[0] + 2 and _allowance(ent)[1] > before[1]
    action = db.session.scalar(select(TicketAction))
    assert (action.ticket_id, action.actor_id, action.action, action.target) == (
        ticket.id, agent.id, "download_allowance", ent.ref)
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "delivery.entitlement.adjust"))
    assert audit.details["reason"].startswith(ticket.reference)


def test_closed_ticket_backs_nothing(app):
    user, _p, _g, ent, _f, _d = bought_file(size=1000)
    agent = make_user(role=Role.SUPPORT)
    ticket = _assigned(user, agent, category="downloads")
    service.agent_reply(ticket, agent, body="Done", next_status="resolved")
    db.session.commit()
    before = _allowance(ent)
    with pytest.raises(service.TicketRequired):
        service.adjust_download(ticket.reference, agent, entitlement_ref=ent.ref, add_downloads=1, reason="again!")
    db.session.rollback()
    assert _allowance(ent) == before


def test_payment_shown_unpaid_is_requeried_from_its_ticket(app, client, sandbox_db):
    user = make_user(tier=Tier.PRIMARY)
    intent, url = start_topup(app, client, user, 2000)
    r = submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00", callback_mode="drop")
    assert r.status_code == 302  # paid at the bank; the callback never came and the customer closed the tab
    db.session.refresh(intent)
    assert intent.status == IntentStatus.PENDING
    agent = make_user(role=Role.SUPPORT)
    ticket = open_ticket(user, linked_kind="payment", linked_ref=intent.reference)
    assert ticket.linked_ref == intent.reference
    with pytest.raises(service.TicketRequired):
        service.requery_payment(ticket.reference, agent, payment_ref=intent.reference)  # not assigned yet
    db.session.rollback()
    db.session.refresh(intent)
    assert intent.status == IntentStatus.PENDING
    service.assign(ticket, agent, agent)
    db.session.commit()
    desk = app.test_client()
    sign_in(desk, agent)
    page = f"/support/desk/t/{ticket.reference}"
    html = desk.get(page).get_data(as_text=True)
    assert f'value="{intent.reference}"' in html  # the linked payment fills the requery form
    r = desk.post(f"{page}/requery", data={"csrf_token": csrf(desk, page), "payment_ref": intent.reference})
    assert r.status_code == 302
    db.session.refresh(intent)
    assert intent.status == IntentStatus.SUCCEEDED
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "support.action.payment_requery"))


def test_the_seam_for_other_domains(app):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    ticket = _assigned(customer, agent, category="counters")
    assert service.ticket_reference_for_action(ticket.reference.lower(), agent, "company_rep_change",
                                               "C-1") == ticket.reference
    with pytest.raises(service.TicketRequired):
        service.ticket_reference_for_action(None, agent, "company_rep_change")
    with pytest.raises(service.Forbidden):
        service.ticket_reference_for_action(ticket.reference, customer, "company_rep_change")


def _email_change_ticket(app, agent, *, docs: int = 2):
    """An anonymous ticket from the customer's new address, with `docs` identity documents, assigned."""
    from .helpers import PDF, PNG, upload

    ticket = service.open_ticket(customer=None, name="Aminah", email="baru@contoh.my", category="account",
                                 subject="Lost my old email", body="My old address is gone",
                                 email_confirmed=True, locale="en",
                                 uploads=[upload(PDF, "mykad.pdf", True), upload(PNG, "holding.png", True)][:docs])
    service.assign(ticket, agent, agent)
    db.session.commit()
    return ticket


def test_email_change_needs_its_ticket_the_evidence_and_the_new_address_link(app, client):
    from ebiz.notifications.models import OutboxMessage
    from ebiz.support.models import TicketAttachment

    customer = make_user(email="lama@contoh.my")
    agent = make_user(role=Role.SUPPORT)
    with pytest.raises(service.TicketRequired):
        service.request_email_change(None, agent, identity_number=customer.mykad, new_email="baru@contoh.my")
    db.session.rollback()
    thin = _email_change_ticket(app, agent, docs=1)
    with pytest.raises(ValidationError):  # one document is not enough
        service.request_email_change(thin.reference, agent, identity_number=customer.mykad,
                                     new_email="baru@contoh.my")
    db.session.rollback()
    ticket = _email_change_ticket(app, agent)
    with pytest.raises(ValidationError):  # the agent has not looked at the documents
        service.request_email_change(ticket.reference, agent, identity_number=customer.mykad,
                                     new_email="baru@contoh.my")
    db.session.rollback()
    desk = app.test_client()
    sign_in(desk, agent)
    for att in db.session.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)):
        r = desk.get(f"/support/desk/t/{ticket.reference}/files/{att.token}")
        assert r.status_code == 200
        r.close()
    page = f"/support/desk/t/{ticket.reference}"
    r = desk.post(f"{page}/email-change", data={"csrf_token": csrf(desk, page), "identity_number": "900101149999",
                                                 "new_email": "baru@contoh.my"})
    assert r.status_code == 400 and "No customer has this identity number." in r.get_data(as_text=True)
    r = desk.post(f"{page}/email-change", data={"csrf_token": csrf(desk, page), "identity_number": customer.mykad,
                                                 "new_email": "baru@contoh.my"})
    assert r.status_code == 302
    db.session.refresh(customer)
    assert customer.email == "lama@contoh.my"  # nothing changes until the new address confirms
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "baru@contoh.my")
                              .order_by(OutboxMessage.id.desc())).first()
    token = mail.body_text.split("/support/email/")[1].split()[0]
    r = client.get(f"/support/email/{token}")
    assert r.status_code == 302
    db.session.expire_all()
    assert customer.email == "baru@contoh.my"
    changed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.email_changed"))
    assert changed.actor_id == agent.id and changed.details["evidence"] == ticket.reference
    assert client.get(f"/support/email/{token}").status_code == 400  # used once
    action = db.session.scalar(select(TicketAction).where(TicketAction.action == "email_change",
                                                          TicketAction.ticket_id == ticket.id))
    assert action.completed_at is not None


def test_refund_goes_through_the_refund_queue_from_its_ticket_once(app, client, sandbox_db):
    from ebiz.payments.models import RefundRequest

    from .helpers import paid_order_intent

    user = make_user(tier=Tier.PRIMARY)
    topup, url = start_topup(app, client, user, 2000)
    submit_gateway(client, go_to_gateway(client, url), bank_code="MB2U0227", outcome="00", callback_mode="drop")
    agent = make_user(role=Role.SUPPORT)
    ticket = _assigned(user, agent)
    with pytest.raises(ValidationError):  # not confirmed by the bank yet
        service.refund_payment(ticket.reference, agent, payment_ref=topup.reference, amount_sen=2000, note="x")
    db.session.rollback()
    service.requery_payment(ticket.reference, agent, payment_ref=topup.reference)
    db.session.commit()
    with pytest.raises(ValidationError):  # a top-up's money is in the wallet: never returned twice
        service.refund_payment(ticket.reference, agent, payment_ref=topup.reference, amount_sen=2000, note="x")
    db.session.rollback()
    intent = paid_order_intent(user)
    with pytest.raises(service.TicketRequired):
        service.refund_payment(None, agent, payment_ref=intent.reference, amount_sen=500, note="double")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 0
    first = service.refund_payment(ticket.reference, agent, payment_ref=intent.reference, amount_sen=500,
                                   note="session moved")
    again = service.refund_payment(ticket.reference, agent, payment_ref=intent.reference, amount_sen=500,
                                   note="session moved")
    db.session.commit()
    assert first.id == again.id and first.reason_code == "support_ticket" and first.amount_sen == 500
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 1


def test_an_action_for_a_named_customer_needs_that_customers_ticket(app):
    customer, other = make_user(), make_user()
    admin = make_user(role=Role.ADMIN)
    theirs = _assigned(other, admin, category="account")
    with pytest.raises(ValidationError) as refused:
        service.ticket_for_action(theirs.reference, admin, action="company_representative", customer=customer)
    assert refused.value.field == "ticket"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(TicketAction)) == 0
    mine = _assigned(customer, admin, category="account")
    assert service.ticket_reference_for_action(mine.reference.lower(), admin, "company_representative",
                                               target="x", customer=customer) == mine.reference
    db.session.commit()
    assert [(a.ticket_id, a.actor_id) for a in service.actions_of(mine)] == [(mine.id, admin.id)]


def _no_email_ticket(legacy_id="L-1", email="old@example.my"):
    ticket = service.open_ticket_without_email(name="Aminah", email_on_record=email, category="account",
                                               subject="Old email no longer in use", body="Call her.",
                                               linked_kind="legacy", linked_ref=legacy_id, locale="en")
    db.session.commit()
    return ticket


def test_a_ticket_without_email_is_in_the_queue_and_never_mailed(app):
    agent = make_user(role=Role.SUPPORT)
    ticket = _no_email_ticket()
    assert ticket.channel == service.NO_MAIL_CHANNEL and ticket in service.queue(agent, "unassigned")
    service.assign(ticket, agent, agent)
    service.agent_reply(ticket, agent, body="We will call you.")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert [m.kind for m in ticket.messages] == ["system", "agent"]
    with pytest.raises(ValidationError):  # only staff-side items: never what a customer's form sends
        service.open_ticket_without_email(name="x", email_on_record="x@example.my", category="account",
                                          subject="s", body="b", linked_kind="order", linked_ref="ORD-1")


def test_an_action_on_a_linked_item_needs_the_ticket_linked_to_it(app):
    admin = make_user(role=Role.ADMIN)
    mine, other = _no_email_ticket("L-1"), _no_email_ticket("L-2")
    unlinked = open_ticket(make_user(), category="account")
    for t in (mine, other, unlinked):
        service.assign(t, admin, admin)
    db.session.commit()
    for t in (other, unlinked):
        with pytest.raises(ValidationError) as refused:
            service.ticket_for_action(t.reference, admin, action="legacy_email_correction", linked=("legacy", "L-1"))
        assert refused.value.field == "ticket"
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(TicketAction)) == 0
    assert service.ticket_for_action(mine.reference, admin, action="legacy_email_correction",
                                     linked=("legacy", "L-1")) == mine
