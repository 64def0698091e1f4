"""Counters show where they are, their phone and their opening hours; administrators keep them."""

import re
from datetime import time

from sqlalchemy import func, select
from sqlalchemy.orm import configure_mappers

from ebiz.accounts.models import Role
from ebiz.audit.models import AuditEvent
from ebiz.companies.models import RunnerOtp
from ebiz.counter.models import Collection, CounterSale, RunnerSession
from ebiz.counters.models import Counter
from ebiz.extensions import db
from ebiz.orders.models import Order
from tests.factories import csrf_from, make_counter, make_user, sign_in


def _row(html: str, code: str) -> str:
    return re.search(rf'data-testid="counter-{code}">(.*?)</tr>', html, re.S).group(1)


def test_the_counters_page_shows_address_phone_and_hours_in_the_readers_language(client):
    c = make_counter("KTN", is_hq=False)
    c.address, c.phone = "Jabatan Ukur dan Pemetaan Negeri\nKota Bharu, Kelantan", "09-000 0000"
    c.open_days, c.opens_at, c.closes_at = "sun-thu", time(8, 0), time(16, 30)
    db.session.commit()
    client.set_cookie("lang", "ms")
    row = _row(client.get("/counter/locations").get_data(as_text=True), "KTN")
    assert "Jabatan Ukur dan Pemetaan Negeri<br>Kota Bharu, Kelantan" in row
    assert 'href="tel:090000000"' in row and "09-000 0000" in row
    assert "Ahad hingga Khamis" in row and "8:00" in row and "4:30" in row
    client.set_cookie("lang", "en")
    row = _row(client.get("/counter/locations").get_data(as_text=True), "KTN")
    assert "Sunday to Thursday, 8:00\u202fAM – 4:30\u202fPM" in row or "Sunday to Thursday, 8:00 AM – 4:30 PM" in row


def _admin_post(client, counter, **over):
    page = client.get(f"/counter/admin/{counter.id}")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.data), "name": counter.name, "state": counter.state,
            "address": "Wisma Tanah\nShah Alam", "phone": "03-000 0000", "open_days": "mon-fri",
            "opens_at": "08:00", "closes_at": "17:00", "active": "y"}
    data.update(over)
    return client.post(f"/counter/admin/{counter.id}", data=data)


def test_an_administrator_sets_a_counters_address_phone_and_hours_audited(client):
    counter = make_counter("SGR", is_hq=False)
    admin = make_user(role=Role.ADMIN)
    sign_in(client, admin)
    assert 'data-testid="nav-admin-counters"' in client.get("/counter/admin/").get_data(as_text=True)
    r = _admin_post(client, counter)
    assert r.status_code == 302
    db.session.expire_all()
    c = db.session.get(Counter, counter.id)
    assert (c.address, c.phone, c.open_days, c.opens_at, c.closes_at) == \
        ("Wisma Tanah\nShah Alam", "03-000 0000", "mon-fri", time(8, 0), time(17, 0))
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "counter.saved"))
    assert ev.actor_id == admin.id and ev.target_id == str(counter.id) and "phone" in ev.details["changed"]


def test_bad_counter_details_are_refused_beside_the_field_and_nothing_changes(client):
    counter = make_counter("JHR", is_hq=False)
    sign_in(client, make_user(role=Role.ADMIN))
    client.set_cookie("lang", "en")
    for over, field in (({"phone": "call us"}, "phone"), ({"opens_at": "17:00", "closes_at": "08:00"}, "closes_at"),
                        ({"open_days": "", "opens_at": "08:00"}, "open_days"), ({"name": ""}, "name"),
                        ({"open_days": "sat-sun"}, "open_days")):
        r = _admin_post(client, counter, **over)
        assert r.status_code == 400, over
        assert re.search(rf'class="field has-error" data-field="{field}"', r.get_data(as_text=True)), over
    db.session.expire_all()
    c = db.session.get(Counter, counter.id)
    assert (c.address, c.phone, c.open_days) == (None, None, None)
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "counter.saved")) == 0


def test_only_administrators_edit_counters(app):
    counter = make_counter("PRK", is_hq=False)
    for role in (Role.COUNTER, Role.SUPPORT, Role.CUSTOMER):
        client = app.test_client()
        sign_in(client, make_user(role=role, counter=counter if role == Role.COUNTER else None))
        assert client.get("/counter/admin/").status_code in (302, 403)
        assert client.get(f"/counter/admin/{counter.id}").status_code in (302, 403)
        assert client.get("/counter/admin/999999").status_code in (302, 403)


def test_every_demo_counter_has_an_address_a_phone_and_hours(app):
    from ebiz.counter import demo

    demo.seed()
    counters = db.session.scalars(select(Counter)).all()
    assert len(counters) == 17
    for c in counters:
        assert c.address and c.phone and c.has_hours, c.code
    assert {c.code for c in counters if c.open_days == "sun-thu"} == {"KDH", "KTN", "TRG"}


def test_models_above_name_the_ground_floor_counter_by_string(app):
    """`relationship("Counter")` in companies and orders resolves to the model in `ebiz.counters`,
    and the desk's own models point at the same class."""
    configure_mappers()
    for attr in (RunnerOtp.counter, RunnerOtp.used_counter, Order.collect_counter,
                 RunnerSession.counter, Collection.counter, CounterSale.counter):
        assert attr.property.mapper.class_ is Counter
    assert Counter.__module__ == "ebiz.counters.models"
