"""Who sees an application and its documents; what a document must be; reviewer vs approver."""

import io
import os
from datetime import timedelta

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.applications import service
from ebiz.applications.models import Application, ApplicationDocument, ApplicationEvent, State
from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.errors import Conflict, Forbidden, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import login_session, make_user

from .helpers import JPEG, PDF, PNG, attach, draft, restricted_product, submitted


def _stored_files(app) -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(app.config["STORAGE_DIR"]))


def test_only_the_applicant_and_review_staff_see_an_application_and_its_documents(app, client):
    owner, stranger = make_user(tier=Tier.PRIMARY), make_user(tier=Tier.PRIMARY)
    counter_staff, admin = make_user(role=Role.COUNTER), make_user(role=Role.ADMIN)
    reviewer = make_user(role=Role.SUPPORT)
    service.grant_reviewer(reviewer.id, actor=admin)
    app_ = submitted(owner, restricted_product())
    doc = app_.documents[0]
    page = f"/applications/{app_.token}"
    doc_url = f"{page}/documents/{doc.token}"

    for user in (stranger, counter_staff):
        login_session(client, user)
        assert client.get(page).status_code == 404
        assert client.get(doc_url).status_code == 404
        assert client.get("/applications/staff/").status_code == 403
    client.get("/accounts/logout")
    for user, status in ((owner, 200), (reviewer, 200), (admin, 200)):
        login_session(client, user)
        r = client.get(page)
        assert r.status_code == status and app_.reference.encode() in r.data
        r = client.get(doc_url)
        assert r.status_code == 200 and r.get_data() == PDF
        assert "no-store" in r.headers["Cache-Control"]
        r.close()
    with client.session_transaction() as sess:
        sess.clear()
    assert client.get(doc_url).status_code in (302, 401)


def test_a_reviewer_who_recommends_cannot_also_decide(app):
    user, admin_a, admin_b = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN), make_user(role=Role.ADMIN)
    reviewer = make_user(role=Role.SUPPORT)
    service.grant_reviewer(reviewer.id, actor=admin_a)
    p = restricted_product()
    app_ = submitted(user, p)
    until = utcnow() + timedelta(days=30)
    with pytest.raises(Conflict):  # two steps: nobody decides before a recommendation
        service.approve(app_.token, admin_a, copies={p.id: 1}, valid_until=until, conditions="c")
    db.session.rollback()
    service.recommend(app_.token, admin_a, recommendation="approve", notes="Fine")
    db.session.commit()
    with pytest.raises(Forbidden):
        service.approve(app_.token, admin_a, copies={p.id: 1}, valid_until=until, conditions="c")
    db.session.rollback()
    with pytest.raises(Forbidden):  # the reviewer permission recommends; it does not decide
        service.reject(app_.token, reviewer, reason="No")
    db.session.rollback()
    assert db.session.get(Application, app_.id).state == State.SUBMITTED
    service.approve(app_.token, admin_b, copies={p.id: 1}, valid_until=until, conditions="c")
    db.session.commit()
    assert db.session.get(Application, app_.id).state == State.APPROVED


def test_one_step_when_the_setting_allows_it(app):
    app.config["APPLICATIONS_TWO_STEP"] = False
    user, admin = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN)
    app_ = submitted(user, restricted_product())
    service.reject(app_.token, admin, reason="Area outside the agency's remit")
    db.session.commit()
    assert app_.state == State.REJECTED and app_.decision_reason == "Area outside the agency's remit"


@pytest.mark.parametrize("data,name", [
    (b"hello, not a pdf at all", "letter.pdf"),
    (PNG, "letter.pdf"),  # a PNG named as a PDF
    (PDF, "letter.png"),
    (JPEG, "photo.exe"),
    (b"MZ\x90\x00" + b"\x00" * 64, "letter.pdf"),
])
def test_a_document_that_is_not_what_its_name_says_is_refused_and_nothing_is_stored(app, data, name):
    user = make_user(tier=Tier.PRIMARY)
    app_ = draft(user, restricted_product())
    before = _stored_files(app)
    with pytest.raises(ValidationError):
        service.add_document(app_.token, user, io.BytesIO(data), name)
    db.session.rollback()
    assert db.session.query(ApplicationDocument).count() == 0
    assert _stored_files(app) == before


def test_a_document_over_the_limit_is_refused_and_nothing_is_stored(app):
    app.config["APPLICATIONS_DOCUMENT_MAX_BYTES"] = 1000
    user = make_user(tier=Tier.PRIMARY)
    app_ = draft(user, restricted_product())
    before = _stored_files(app)
    with pytest.raises(ValidationError):
        service.add_document(app_.token, user, io.BytesIO(PDF + b"0" * 2000), "big.pdf")
    db.session.rollback()
    assert db.session.query(ApplicationDocument).count() == 0 and _stored_files(app) == before
    doc = attach(app_, user, JPEG, "site.JPG")
    assert doc.content_type == "image/jpeg" and _stored_files(app) == before + 1


def test_someone_elses_draft_cannot_be_changed_submitted_or_given_documents(app):
    owner, other = make_user(tier=Tier.PRIMARY), make_user(tier=Tier.PRIMARY)
    app_ = draft(owner, restricted_product())
    for call in (lambda: service.submit(app_.token, other),
                 lambda: service.withdraw(app_.token, other),
                 lambda: service.add_document(app_.token, other, io.BytesIO(PDF), "x.pdf")):
        with pytest.raises(Exception) as exc:
            call()
        assert type(exc.value).__name__ == "NotFound"
        db.session.rollback()
    assert db.session.get(Application, app_.id).state == State.DRAFT
    assert db.session.query(ApplicationDocument).count() == 0


def test_submission_needs_the_declaration_and_takes_a_gapless_reference(app):
    user = make_user(tier=Tier.PRIMARY)
    p = restricted_product()
    app_ = draft(user, p, declaration=False)
    with pytest.raises(ValidationError) as exc:
        service.submit(app_.token, user)
    assert "declaration" in exc.value.details["errors"]
    db.session.rollback()
    assert db.session.get(Application, app_.id).reference is None
    a1, a2 = submitted(user, p), submitted(user, p)
    year = utcnow().year
    assert a1.reference == f"APL-{year}-000001" and a2.reference == f"APL-{year}-000002"


def test_remit_is_refused_to_companies_and_individuals(app):
    user = make_user(tier=Tier.PRIMARY)
    app_ = draft(user, restricted_product(), remit=True, category="individual")
    attach(app_, user)
    with pytest.raises(ValidationError) as exc:
        service.submit(app_.token, user)
    assert "wants_remit" in exc.value.details["errors"]
    db.session.rollback()
    assert db.session.get(Application, app_.id).state == State.DRAFT


def test_every_change_of_state_emails_the_applicant_in_their_language(app):
    user = make_user(tier=Tier.PRIMARY, locale="en")
    user_ms = make_user(tier=Tier.PRIMARY, locale="ms")
    admin = make_user(role=Role.ADMIN)
    p = restricted_product()
    a = submitted(user, p)
    service.request_info(a.token, admin, question="Which district?")
    db.session.commit()
    b = submitted(user_ms, p)
    service.withdraw(b.token, user_ms)
    db.session.commit()
    subjects = {m.to_address: [] for m in db.session.query(OutboxMessage)}
    for m in db.session.query(OutboxMessage).order_by(OutboxMessage.id):
        subjects[m.to_address].append(m.subject)
    assert subjects[user.email] == [f"Application {a.reference}: Submitted",
                                    f"Application {a.reference}: More information requested"]
    assert subjects[user_ms.email] == [f"Permohonan {b.reference}: Dihantar",
                                       f"Permohonan {b.reference}: Ditarik balik"]
    assert db.session.query(ApplicationEvent).filter_by(application_id=a.id, action="request_info").count() == 1
    assert db.session.query(AuditEvent).filter_by(action="applications.request_info").count() == 1


def test_a_state_the_table_does_not_allow_is_refused_and_nothing_changes(app):
    user, admin = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN)
    a = submitted(user, restricted_product())
    app.config["APPLICATIONS_TWO_STEP"] = False
    service.reject(a.token, admin, reason="Outside Malaysia")
    db.session.commit()
    mails = db.session.query(OutboxMessage).count()
    for call in (lambda: service.withdraw(a.token, user), lambda: service.reject(a.token, admin, reason="again"),
                 lambda: service.resubmit(a.token, user, answer="hi")):
        with pytest.raises(Conflict):
            call()
        db.session.rollback()
    a = db.session.get(Application, a.id)
    assert a.state == State.REJECTED and a.decision_reason == "Outside Malaysia"
    assert db.session.query(OutboxMessage).count() == mails


def test_demo_data_has_applications_in_several_states(app):
    result = app.test_cli_runner().invoke(args=["ebiz", "seed-demo"])
    assert result.exit_code == 0, result.output
    states = {a.state for a in db.session.query(Application)}
    assert {State.DRAFT, State.SUBMITTED, State.INFO_REQUESTED, State.REJECTED, State.APPROVED} <= states
