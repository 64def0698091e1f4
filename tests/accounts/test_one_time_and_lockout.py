"""One-time links stay one-time (also when two requests race, and after an email changes back),
a locked-out account stays locked at the code step, the code step's limit counts the account,
identity numbers are ASCII, and a duplicate that slips past the checks is a clear error."""

import pytest
from sqlalchemy import func, select

from ebiz.accounts import service
from ebiz.accounts.models import Kind, User
from ebiz.audit.models import AuditEvent
from ebiz.errors import ValidationError
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.tokens import fingerprint, make_token
from tests.factories import PASSWORD, csrf_from, make_grant, make_product, make_user, totp_code
from tests.races import race

STRONG = "Peta-Ukur-Tanah-2026"


def _count(action: str) -> int:
    db.session.rollback()  # end any old snapshot: read what the racing threads committed
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _to_code_step(app, user):
    client = app.test_client()
    page = client.get("/account/login")
    r = client.post("/account/login", data={"csrf_token": csrf_from(page.data), "login": user.email,
                                             "password": PASSWORD})
    assert r.headers["Location"].endswith("/account/login/code")
    return client, csrf_from(client.get("/account/login/code").data)


def test_a_locked_out_account_is_refused_at_the_code_step_even_with_the_right_code(app):
    user = make_user(mfa=True)
    client, token = _to_code_step(app, user)
    for _ in range(app.config["LOGIN_LOCKOUT_THRESHOLD"]):
        r = client.post("/account/login/code", data={"csrf_token": token, "code": "000000"})
    assert r.status_code == 429
    r = client.post("/account/login/code", data={"csrf_token": token, "code": totp_code(user)})
    assert r.status_code == 429 and b"Too many failed sign-in attempts" in r.data
    db.session.expire_all()
    assert db.session.get(User, user.id).locked_until is not None  # the right code did not lift the lock
    assert _count("auth.signin_refused") == 1


def test_the_code_steps_limit_counts_the_account_whatever_the_form_says(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_THRESHOLD", 1000)  # the rate limit alone
    user = make_user(mfa=True)
    client, token = _to_code_step(app, user)
    codes = [client.post("/account/login/code", data={"csrf_token": token, "code": "000000",
                                                        "login": f"nobody-{i}"}).status_code for i in range(12)]
    assert codes[:10] == [200] * 10 and codes[10:] == [429, 429], codes


def test_a_used_email_change_link_stays_used_after_the_address_changes_back(app, monkeypatch):
    user = make_user(email="asal@contoh.my")
    links = {}
    real = service.make_token
    monkeypatch.setattr(service, "make_token", lambda purpose, payload: links.setdefault(
        payload.get("new"), real(purpose, payload)))
    with app.test_request_context():
        service.request_email_change(user, password=PASSWORD, new_email="baru@contoh.my")
        service.confirm_email_change(links["baru@contoh.my"])
        service.request_email_change(user, password=PASSWORD, new_email="asal@contoh.my")
        service.confirm_email_change(links["asal@contoh.my"])  # back to the first address
        db.session.commit()
        with pytest.raises(ValidationError, match="already used"):
            service.confirm_email_change(links["baru@contoh.my"])
    assert db.session.get(User, user.id).email == "asal@contoh.my"


@pytest.mark.parametrize("field,value", [("company_reg_no", "\u0661\u0662\u0663\u0664\u0665\u0666-A"),
                                         ("rep_mykad", "\u0668\u0668\u0660\u0668\u0660\u0668-08-5567")])
def test_identity_numbers_take_ascii_digits_only(app, client, field, value):
    data = {"kind": "company", "full_name": "Wakil B", "email": "b@ukur.my", "company_reg_no": "123456-A",
            "company_name": "Ukur Dua Sdn. Bhd.", "rep_mykad": "880808-08-5567", "password": STRONG,
            "confirm": STRONG, field: value}
    r = client.post("/account/register", data={"csrf_token": csrf_from(client.get("/account/register").data),
                                               **data})
    assert r.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(User).where(User.kind == Kind.COMPANY)) == 0


def test_a_reset_link_used_by_two_requests_at_once_resets_once(app):
    user = make_user()
    token = make_token("password-reset", {"uid": user.id, "fp": fingerprint(user.id, user.password_hash)})
    results = race(app, lambda new: service.reset_password(token, new),
                   [("Kertas-Peta-Lama-Sekali-1",), ("Batu-Sempadan-Hilang-Jauh-2",)])
    assert sorted(results) == ["ValidationError", "ok"], results
    assert _count("account.password_reset") == 1


def test_two_registrations_with_one_email_at_once_make_one_account_and_tell_the_mailbox(app):
    outcomes = []

    def register(mykad):
        outcomes.append(service.register(kind="individual", full_name="Siti Aminah", email="same@contoh.my",
                                         password=STRONG, mykad=mykad))

    results = race(app, register, [("900101145678",), ("900101145679",)])
    assert results == ["ok", "ok"], results
    assert sorted(outcomes) == [service.EMAIL_TAKEN, service.REGISTERED]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    # The second was told as the mailbox of an existing (still unconfirmed) account is.
    assert sorted(m.template for m in db.session.scalars(select(OutboxMessage))) == [
        "registration_confirm", "registration_existing"]


def test_a_duplicate_that_slipped_past_the_checks_is_answered_as_taken(app, monkeypatch):
    make_user(email="same@contoh.my")
    real = service.account_with_email
    calls = []

    def first_time_none(email):  # the check sees no account, as a concurrent twin's request would
        calls.append(email)
        return None if len(calls) == 1 else real(email)

    monkeypatch.setattr(service, "account_with_email", first_time_none)
    outcome = service.register(kind="individual", full_name="Siti Aminah", email="same@contoh.my",
                               password=STRONG, mykad="900101145678")
    assert outcome == service.EMAIL_TAKEN
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(OutboxMessage.template)) == "registration_existing"


def test_a_licence_revoked_twice_at_once_is_revoked_and_audited_once(app):
    from ebiz.accounts.models import Role
    from ebiz.licensing import service as licensing

    admin = make_user(role=Role.ADMIN)
    grant = make_grant(make_user(tier="primary"), make_product())
    number, admin_id = grant.number, admin.id
    results = race(app, lambda reason: licensing.revoke(licensing.grant_by_number(number), actor=admin_id,
                                                        reason=reason), [("first",), ("second",)])
    assert sorted(results) == ["Conflict", "ok"], results
    assert _count("licence.revoke") == 1
    assert licensing.grant_by_number(number).status == "revoked"
