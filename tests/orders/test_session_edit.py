"""An administrator changes a training session: its registrants hear of a new time or place, the
seats never drop below those taken (even against a concurrent registration), and a cancelled or
started session stays as it was."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from ebiz.accounts.models import Role, Tier
from ebiz.audit.models import AuditEvent
from ebiz.catalog.models import TrainingSession
from ebiz.clock import to_local, utcnow
from ebiz.errors import Conflict, Forbidden, ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.orders import service
from tests.factories import make_user
from tests.orders.helpers import client_for, csrf, place, training


def _details(ts, **changes):
    d = {"starts_at": ts.starts_at, "ends_at": ts.ends_at, "venue": ts.venue, "online": ts.online,
         "seats_total": ts.seats_total}
    return {**d, **changes}


def _mails():
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "orders_session_changed")).all()


def test_a_new_time_is_saved_audited_and_mailed_to_every_seat_holder(app):
    trn, ts = training(seats=5)
    holders = [make_user(tier=Tier.REGULAR) for _ in range(2)]
    for user in holders:
        place(user, (trn, ts))
    admin = make_user(role=Role.ADMIN)
    later = ts.starts_at + timedelta(days=7)

    changed, told = service.change_training_session(
        ts.id, actor=admin, **_details(ts, starts_at=later, ends_at=later + timedelta(hours=7)))
    db.session.commit()

    assert sorted(changed) == ["ends_at", "starts_at"] and told == 2
    assert db.session.get(TrainingSession, ts.id).starts_at == later
    assert sorted(m.to_address for m in _mails()) == sorted(u.email for u in holders)
    assert to_local(later).strftime("%d/%m/%Y %H:%M") in _mails()[0].body_text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "catalog.session.edit"))
    assert event.actor_id == admin.id and set(event.details["changes"]) == {"starts_at", "ends_at"}


def test_more_seats_tell_nobody_and_fewer_than_taken_are_refused(app):
    trn, ts = training(seats=3)
    for _ in range(2):
        place(make_user(tier=Tier.REGULAR), (trn, ts))
    admin = make_user(role=Role.ADMIN)
    changed, told = service.change_training_session(ts.id, actor=admin, **_details(ts, seats_total=10))
    db.session.commit()
    assert (changed, told) == (["seats_total"], 0) and _mails() == []
    # The form gives times to the minute: the same minute is no change, and nobody is told.
    same_minute = ts.starts_at.replace(second=0, microsecond=0)
    assert service.change_training_session(ts.id, actor=admin, **_details(ts, starts_at=same_minute)) == ([], 0)

    with pytest.raises(ValidationError) as exc:
        service.change_training_session(ts.id, actor=admin, **_details(ts, seats_total=1, venue="Ipoh"))
    db.session.rollback()
    assert exc.value.field == "seats_total"
    ts = db.session.get(TrainingSession, ts.id)
    assert (ts.seats_total, ts.seats_taken, ts.venue) == (10, 2, "Kuala Lumpur HQ")


def test_a_cancelled_or_started_session_is_not_changed_and_only_an_administrator_changes_one(app):
    admin = make_user(role=Role.ADMIN)
    _trn, started = training(starts_in_days=-1)
    with pytest.raises(Conflict):
        service.change_training_session(started.id, actor=admin, **_details(started, venue="Ipoh"))
    db.session.rollback()
    _trn, ts = training()
    ts.cancelled = True
    db.session.commit()
    with pytest.raises(Conflict):
        service.change_training_session(ts.id, actor=admin, **_details(ts, venue="Ipoh"))
    db.session.rollback()
    with pytest.raises(Forbidden):
        service.change_training_session(started.id, actor=make_user(role=Role.SUPPORT), **_details(started))
    db.session.rollback()
    assert {s.venue for s in db.session.scalars(select(TrainingSession))} == {"Kuala Lumpur HQ"}


def test_the_page_shows_errors_beside_the_field_and_saves_in_malaysia_time(app):
    _trn, ts = training(seats=4, taken=3)
    client = client_for(app, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    path = f"/orders/staff/sessions/{ts.id}/edit"
    page = client.get(path).get_data(as_text=True)
    assert to_local(ts.starts_at).strftime("%Y-%m-%dT%H:%M") in page
    day = (to_local(utcnow()) + timedelta(days=20)).strftime("%Y-%m-%d")
    form = {"csrf_token": csrf(client, path), "starts_at": f"{day}T09:00", "ends_at": f"{day}T17:00",
            "venue": "Online", "online": "y", "seats_total": "2"}
    r = client.post(path, data=form)
    assert r.status_code == 200 and "3 seats are already taken" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TrainingSession, ts.id).seats_total == 4
    r = client.post(path, data={**form, "seats_total": "8"})
    assert r.status_code == 302
    db.session.expire_all()
    saved = db.session.get(TrainingSession, ts.id)
    assert (to_local(saved.starts_at).strftime("%Y-%m-%dT%H:%M"), saved.online, saved.seats_total) == \
        (f"{day}T09:00", True, 8)
    customer = client_for(app, make_user(tier=Tier.PRIMARY))
    assert customer.get(path).status_code in (302, 403)
