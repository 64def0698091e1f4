"""The working-day clock: weekends, federal public holidays, paused while waiting; the reminder."""

from datetime import date

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.applications import service, workdays
from ebiz.applications.models import Application, State
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from tests.factories import make_user

from .helpers import draft, restricted_product, submitted


@pytest.fixture
def today(monkeypatch):
    box = {"d": date(2026, 8, 28)}  # a Friday; Mon 31 Aug is National Day, Wed 16 Sep Malaysia Day
    monkeypatch.setattr(service, "_today", lambda: box["d"])
    return box


def test_working_days_skip_weekends_and_federal_holidays():
    assert workdays.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 1)  # Sat, Sun, National Day
    assert workdays.add_working_days(date(2026, 8, 28), 14) == date(2026, 9, 21)  # and Malaysia Day
    assert workdays.working_days_between(date(2026, 8, 28), date(2026, 9, 21)) == 14
    assert workdays.working_days_between(date(2026, 9, 12), date(2026, 9, 13)) == 0  # a weekend


def test_due_date_counts_working_days_and_pauses_while_waiting_for_the_applicant(app, today):
    user, admin = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN)
    app_ = submitted(user, restricted_product())
    assert app_.due_on == date(2026, 9, 21)
    today["d"] = date(2026, 9, 2)  # Wednesday: two working days used (Tue 1, Wed 2)
    assert service.days_used(app_) == 2 and service.days_left(app_) == 12
    service.request_info(app_.token, admin, question="Send the agency's letter")
    db.session.commit()
    assert app_.due_on is None and app_.clock_days_used == 2
    today["d"] = date(2026, 9, 10)  # eight days later: none of them counted
    assert service.days_used(app_) == 2
    service.resubmit(app_.token, user, answer="Letter attached")
    db.session.commit()
    # 12 working days left from Thu 10 Sep, skipping weekends and Malaysia Day (Wed 16 Sep).
    assert app_.state == State.RESUBMITTED and app_.due_on == date(2026, 9, 29)
    today["d"] = date(2026, 9, 30)
    assert service.days_left(app_) == -1


def test_remind_picks_exactly_the_applications_close_to_or_past_due(app, today):
    user = make_user(tier=Tier.PRIMARY)
    admin, other_staff = make_user(role=Role.ADMIN), make_user(role=Role.COUNTER)
    reviewer = make_user(role=Role.SUPPORT)
    service.grant_reviewer(reviewer.id, actor=admin)
    p = restricted_product()
    far = submitted(user, p)  # due Mon 21 Sep
    today["d"] = date(2026, 8, 12)
    soon = submitted(user, p)  # 14 working days after Wed 12 Aug (25 and 31 Aug are holidays): Thu 3 Sep
    today["d"] = date(2026, 7, 1)
    overdue = submitted(user, p)
    paused = submitted(user, p)
    service.request_info(paused.token, admin, question="Which district?")
    draft(user, p)
    db.session.commit()
    today["d"] = date(2026, 9, 2)
    assert soon.due_on == date(2026, 9, 3)  # within two working days of Wed 2 Sep
    db.session.query(OutboxMessage).delete()
    db.session.commit()

    refs = service.remind()
    db.session.commit()
    assert refs == [overdue.reference, soon.reference]
    assert far.reference not in refs and paused.reference not in refs
    mails = db.session.query(OutboxMessage).all()
    assert sorted(m.to_address for m in mails) == sorted([admin.email, reviewer.email])
    assert other_staff.email not in {m.to_address for m in mails}
    assert all(overdue.reference in m.body_text and soon.reference in m.body_text for m in mails)
    assert db.session.query(Application).count() == 5
    assert service.remind() == []  # once a day: a second run (another host's cron) sends nothing
    db.session.commit()
    assert db.session.query(OutboxMessage).count() == len(mails)
    today["d"] = date(2026, 9, 3)
    assert service.remind() == [overdue.reference, soon.reference]


def test_the_daily_commands_run_and_say_what_they_did(app, today):
    user, admin = make_user(tier=Tier.PRIMARY), make_user(role=Role.ADMIN)
    today["d"] = date(2026, 7, 1)
    overdue = submitted(user, restricted_product())
    today["d"] = date(2026, 9, 2)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["applications", "remind"])
    assert result.exit_code == 0 and overdue.reference in result.output
    result = runner.invoke(args=["applications", "remind"])
    assert result.exit_code == 0 and "0 application(s)" in result.output
    for command in ("expire", "purge"):
        result = runner.invoke(args=["applications", command])
        assert result.exit_code == 0 and "0 " in result.output, result.output
    assert admin.email in {m.to_address for m in db.session.query(OutboxMessage)}
