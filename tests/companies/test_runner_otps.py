"""Runner OTPs: issued by a company, revoked, redeemed once at a counter, locked after five wrong tries."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ebiz.accounts.models import Tier
from ebiz.audit.models import AuditEvent
from ebiz.clock import utcnow
from ebiz.companies import service as companies
from ebiz.companies.models import OtpStatus, RunnerOtp, RunnerOtpLock
from ebiz.counter.models import RunnerSession
from ebiz.errors import Conflict, Forbidden, NotFound, TierRequired, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.companies.helpers import RUNNER_MYKAD, company, otp_for, redeem, staff_at
from tests.factories import csrf_from, make_user, sign_in
from tests.races import race


def _sessions() -> int:
    return db.session.scalar(select(func.count(RunnerSession.id)))


def test_company_creates_an_otp_shown_once_and_stored_only_as_a_hash(app):
    co = company()
    client = app.test_client()
    sign_in(client, co)
    page = client.get("/company/runners")
    r = client.post("/company/runners", data={"csrf_token": csrf_from(page.data), "runner_name": "Ahmad Runner",
                                              "runner_id_type": "mykad", "runner_id_no": "900101-14-5678",
                                              "may_collect": "y", "cap": "0"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    code = re.search(r'data-testid="otp-code">(\d+)<', html).group(1)
    assert len(code) == 8
    otp = db.session.scalar(select(RunnerOtp))
    assert otp.code_hash == companies.code_hash(co.id, code) and code not in otp.code_hash
    assert otp.runner_id_no == RUNNER_MYKAD and otp.cap_sen == 0 and not otp.may_buy
    assert code not in client.get("/company/runners").get_data(as_text=True)  # shown once
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "company_runner_otp"))
    assert mail.to_address == co.email and code not in mail.body_text
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "runner_otp.issued"))
    assert code not in str(ev.details)


def test_default_expiry_is_the_end_of_the_next_working_day():
    from datetime import datetime

    from ebiz.clock import to_local

    friday = datetime(2026, 12, 4, 3, 0)  # Friday 11:00 MYT
    assert to_local(companies.default_expiry(friday)).strftime("%a %d %H:%M") == "Mon 07 23:59"
    christmas_eve = datetime(2026, 12, 24, 3, 0)  # Thursday; Friday 25 December is a public holiday
    assert to_local(companies.default_expiry(christmas_eve)).strftime("%a %d") == "Mon 28"


def test_an_individual_cannot_create_otps(app):
    person = make_user()
    client = app.test_client()
    sign_in(client, person)
    assert client.get("/company/runners").status_code == 403
    page = client.get("/account/")
    r = client.post("/company/runners", data={"csrf_token": csrf_from(page.data), "runner_name": "X",
                                              "runner_id_type": "mykad", "runner_id_no": RUNNER_MYKAD, "cap": "0"})
    assert r.status_code == 403
    with pytest.raises(Forbidden):
        companies.issue_otp(person, runner_name="X", runner_id_type="mykad", runner_id_no=RUNNER_MYKAD)
    assert db.session.scalar(select(func.count(RunnerOtp.id))) == 0


def test_mandate_rules(app):
    co = company()
    bad = [
        (dict(runner_name=""), ValidationError, "runner_name"),
        (dict(runner_id_no="123"), ValidationError, "runner_id_no"),
        (dict(expires_at=utcnow() + timedelta(days=8)), ValidationError, "expires_at"),
        (dict(expires_at=utcnow() - timedelta(minutes=1)), ValidationError, "expires_at"),
        (dict(may_buy=True, cap_sen=0), ValidationError, "cap"),
        (dict(may_buy=True, cap_sen=-1), ValidationError, "cap"),
        (dict(may_use_wallet=True, cap_sen=1000), TierRequired, "may_use_wallet"),  # a Regular company
        (dict(may_collect=False), ValidationError, "may_collect"),
    ]
    for fields, error, field in bad:
        with pytest.raises(error) as exc:
            otp_for(co, **fields)
        assert exc.value.field == field, fields
        db.session.rollback()
    assert db.session.scalar(select(func.count(RunnerOtp.id))) == 0


def test_a_company_never_sees_or_revokes_another_companys_otps(app):
    mine, theirs = company(), company(reg_no="201901054321")
    their_otp, _code = otp_for(theirs)
    client = app.test_client()
    sign_in(client, mine)
    page = client.get("/company/runners")
    assert their_otp.reference not in page.get_data(as_text=True)
    r = client.post(f"/company/runners/{their_otp.reference}/revoke", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 404
    with pytest.raises(NotFound):
        companies.revoke_otp(mine, their_otp.reference)
    db.session.rollback()
    assert db.session.get(RunnerOtp, their_otp.id, populate_existing=True).status == OtpStatus.LIVE


def test_revoked_otp_is_refused_at_the_counter(app):
    co = company()
    otp, code = otp_for(co)
    client = app.test_client()
    sign_in(client, co)
    page = client.get("/company/runners")
    r = client.post(f"/company/runners/{otp.reference}/revoke", data={"csrf_token": csrf_from(page.data)})
    assert r.status_code == 302
    assert db.session.get(RunnerOtp, otp.id, populate_existing=True).status == OtpStatus.REVOKED
    staff, _ = staff_at()
    with pytest.raises(companies.OtpRefused, match="revoked"):
        redeem(staff, co, code)
    db.session.commit()
    assert _sessions() == 0
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "runner_otp.refused"))
    assert ev.actor_id == staff.id and ev.details["reason"] == "revoked"
    assert ev.details["counter_id"] == staff.counter_id
    with pytest.raises(Conflict):
        companies.revoke_otp(co, otp.reference)


def test_otp_opens_one_session_once_with_all_three_details(app):
    co = company()
    otp, code = otp_for(co)
    staff, counter = staff_at()
    with pytest.raises(companies.OtpRefused, match="identity document"):
        redeem(staff, co, code, runner="850615105523")  # the wrong runner
    db.session.commit()
    with pytest.raises(companies.OtpRefused):
        redeem(staff, company(reg_no="201901054321"), code)  # the wrong company
    db.session.commit()
    assert _sessions() == 0
    rs = redeem(staff, co, code, runner="900101-14-5678")
    db.session.commit()
    assert rs.company_id == co.id and rs.counter_id == counter.id and rs.is_open()
    used = db.session.get(RunnerOtp, otp.id, populate_existing=True)
    assert (used.status, used.used_counter_id, used.used_by_id) == (OtpStatus.USED, counter.id, staff.id)
    with pytest.raises(companies.OtpRefused, match="already used"):
        redeem(staff, co, code)
    db.session.commit()
    assert _sessions() == 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("runner_otp.%"))
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["runner_otp.issued", "runner_otp.refused", "runner_otp.refused", "runner_otp.used",
                       "runner_otp.refused"]


def test_expired_otp_and_otp_for_another_counter_are_refused(app, monkeypatch):
    co = company()
    staff, _counter = staff_at("SGR")
    _other_staff, other = staff_at("JHR")
    _otp, code = otp_for(co, counter_id=other.id)
    with pytest.raises(companies.OtpRefused, match="another counter"):
        redeem(staff, co, code)
    db.session.commit()
    _otp2, code2 = otp_for(co, expires_at=utcnow() + timedelta(minutes=5))
    later = utcnow() + timedelta(minutes=6)
    monkeypatch.setattr("ebiz.companies.service.utcnow", lambda: later)
    with pytest.raises(companies.OtpRefused, match="expired"):
        redeem(staff, co, code2)
    db.session.commit()
    assert _sessions() == 0


def test_the_counter_page_refuses_and_keeps_the_refusal(app):
    co = company()
    _otp, code = otp_for(co)
    staff, _ = staff_at()
    client = app.test_client()
    sign_in(client, staff)
    page = client.get("/counter/runners")
    r = client.post("/counter/runners", data={"csrf_token": csrf_from(page.data), "company_reg_no": "2019-01-012345",
                                              "code": "00000000", "runner_id_no": RUNNER_MYKAD})
    assert r.status_code == 400 and 'id="code-error"' in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "runner_otp.refused")) == 1
    r = client.post("/counter/runners", data={"csrf_token": csrf_from(page.data), "company_reg_no": "201901012345",
                                              "code": code, "runner_id_no": RUNNER_MYKAD})
    assert r.status_code == 302
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="runner-banner"' in html and co.company_name in html
    # The banner is on every page while the session is open.
    assert 'data-testid="runner-banner"' in client.get("/counter/").get_data(as_text=True)


def _wrong_try(company_id, staff_id, code):
    from ebiz.accounts.models import User

    staff, co = db.session.get(User, staff_id), db.session.get(User, company_id)
    try:
        redeem(staff, co, code)
    except companies.OtpRefused:
        db.session.commit()  # as the counter page does: the refusal counts
        return
    raise AssertionError("a wrong code was accepted")


def test_five_wrong_tries_across_two_workers_lock_the_companys_otps(app, monkeypatch):
    co = company()
    _otp, code = otp_for(co)
    staff_a, _ = staff_at("SGR")
    staff_b, _ = staff_at("JHR")
    wrong = "12345678" if code != "12345678" else "87654321"
    # Two counters' workers (each its own app context and session): four wrong tries at once, then
    # a fifth; the count is kept in the database, so together they lock the company's OTPs.
    assert race(app, _wrong_try, [(co.id, (staff_a if i % 2 else staff_b).id, wrong) for i in range(4)]) == ["ok"] * 4
    db.session.rollback()
    assert db.session.get(RunnerOtpLock, co.id).locked_until is None  # four: not yet
    assert race(app, _wrong_try, [(co.id, staff_b.id, wrong)]) == ["ok"]
    db.session.rollback()
    with pytest.raises(companies.OtpRefused, match="locked"):
        redeem(staff_a, co, code)  # the right code, but locked
    db.session.commit()
    assert _sessions() == 0
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "runner_otp.refused",
                                                      AuditEvent.details["locked"].as_boolean().is_(True)))
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr("ebiz.companies.service.utcnow", lambda: later)
    monkeypatch.setattr("ebiz.counter.service.utcnow", lambda: later)
    assert redeem(staff_a, co, code).company_id == co.id


def _open(staff_id, company_id, code):
    from ebiz.accounts.models import User

    redeem(db.session.get(User, staff_id), db.session.get(User, company_id), code)


def test_two_counters_entering_one_otp_at_once_open_exactly_one_session(app, is_postgres):
    co = company(tier=Tier.PRIMARY)
    _otp, code = otp_for(co)
    staff_a, _ = staff_at("SGR")
    staff_b, _ = staff_at("JHR")
    results = race(app, _open, [(staff_a.id, co.id, code), (staff_b.id, co.id, code)])
    db.session.rollback()
    assert sorted(results) == ["OtpRefused", "ok"], results
    assert _sessions() == 1


def test_staff_without_a_live_otp_cannot_act_for_a_company(app, monkeypatch):
    co = company()
    _otp, code = otp_for(co)
    staff, _ = staff_at()
    rs = redeem(staff, co, code)
    db.session.commit()
    other, _ = staff_at()
    client = app.test_client()
    sign_in(client, other)
    assert client.get(f"/counter/runners/{rs.reference}").status_code == 404  # someone else's session
    assert client.get("/counter/runners/EBZ-RUN-0000-0000").status_code == 404
    client = app.test_client()
    sign_in(client, staff)
    assert client.get(f"/counter/runners/{rs.reference}").status_code == 200
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr("ebiz.counter.models.utcnow", lambda: later)
    assert client.get(f"/counter/runners/{rs.reference}").status_code == 403  # 30 minutes are up
    assert 'data-testid="runner-banner"' not in client.get("/counter/").get_data(as_text=True)
