"""Customers edit their own name, phone and address (issue 11 §3); identity numbers stay as they are."""

import re

from sqlalchemy import func, select

from ebiz.accounts.models import Kind, User
from ebiz.audit.models import AuditEvent
from ebiz.extensions import db
from tests.factories import csrf_from, make_user, sign_in


def _edit(client, **fields):
    page = client.get("/account/edit")
    assert page.status_code == 200
    return client.post("/account/edit", data={"csrf_token": csrf_from(page.data), **fields})


def _events():
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "account.profile_changed"))


def test_a_customer_edits_name_phone_and_address_and_the_change_is_audited(client):
    user = make_user(full_name="Siti Aminah", mykad="900101145678")
    sign_in(client, user)
    r = _edit(client, full_name="  Siti   Aminah binti Ali ", phone="012-345 6789",
              address="No. 5, Jalan Ukur\r\n\r\n50578 Kuala Lumpur", mykad="880808085566", email="lain@contoh.my")
    assert r.status_code == 302 and r.headers["Location"] == "/account/"
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.full_name, user.phone, user.address) == ("Siti Aminah binti Ali", "+60123456789",
                                                          "No. 5, Jalan Ukur\n50578 Kuala Lumpur")
    assert (user.mykad, user.email) != ("880808085566", "lain@contoh.my")  # not editable here
    assert user.mykad == "900101145678"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.profile_changed"))
    assert event.actor_id == user.id and sorted(event.details["fields"]) == ["address", "full_name", "phone"]
    html = client.get("/account/").get_data(as_text=True)
    assert "+60 12-345 6789" in html and "No. 5, Jalan Ukur<br>50578 Kuala Lumpur" in html
    assert "Your details were saved." in html
    # The form opens with what is stored, the phone as people write it.
    assert 'value="+60 12-345 6789"' in client.get("/account/edit").get_data(as_text=True)
    # Saving without a change writes no event.
    _edit(client, full_name="Siti Aminah binti Ali", phone="+60 12-345 6789",
          address="No. 5, Jalan Ukur\n50578 Kuala Lumpur")
    assert _events() == 1


def test_any_text_is_not_a_phone_number_and_nothing_is_saved(client):
    user = make_user(full_name="Siti Aminah", phone="+60123456789")
    sign_in(client, user)
    for phone in ("call me", "123", "\u0660\u0661\u0662-345 6789", "+60 12-345 6789 ext 12345678901234"):
        r = _edit(client, full_name="Nama Baru", phone=phone, address="")
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and 'id="phone-error"' in html, phone
        assert 'value="Nama Baru"' in html  # nothing typed is lost
    r = _edit(client, full_name="   ", phone="012-345 6789", address="x" * 501)
    html = r.get_data(as_text=True)
    assert 'id="full_name-error"' in html and 'id="address-error"' in html
    db.session.expire_all()
    assert db.session.get(User, user.id).full_name == "Siti Aminah" and _events() == 0


def test_a_foreign_number_keeps_its_country_and_an_empty_phone_clears_it(client):
    user = make_user(kind=Kind.FOREIGNER, phone="+60123456789")
    sign_in(client, user)
    _edit(client, full_name=user.full_name, phone="+65 6123 4567", address="")
    db.session.expire_all()
    assert db.session.get(User, user.id).phone == "+6561234567"
    _edit(client, full_name=user.full_name, phone="", address="")
    db.session.expire_all()
    assert db.session.get(User, user.id).phone is None


def test_registration_takes_only_a_real_phone_number(client):
    page = client.get("/account/register")
    r = client.post("/account/register", data={
        "csrf_token": csrf_from(page.data), "kind": "individual", "full_name": "Siti Aminah",
        "email": "siti@contoh.my", "mykad": "900101145678", "phone": "not a phone",
        "password": "Peta-Ukur-Tanah-2026", "confirm": "Peta-Ukur-Tanah-2026"})
    assert r.status_code == 200 and 'id="phone-error"' in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_editing_needs_a_signed_in_user(client):
    r = client.get("/account/edit")
    assert r.status_code == 302 and "/account/login" in r.headers["Location"]
    assert re.search(r"next=", r.headers["Location"])
