"""`flask ebiz seed-demo`: the demo data `make run` loads into an empty database."""

import re

from sqlalchemy import func, select

from ebiz.accounts.models import Role, Tier, User
from ebiz.accounts.passwords import verify_password
from ebiz.counters.models import Counter
from ebiz.extensions import db
from ebiz.notifications.models import OutboxMessage
from ebiz.wallet import service as wallet


def test_seed_demo_loads_everything_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ebiz", "seed-demo"])
    assert result.exit_code == 0, result.output
    # HQ and one counter per state and federal territory.
    assert db.session.scalar(select(func.count()).select_from(Counter)) == 17
    assert db.session.scalar(select(func.count()).where(Counter.is_hq)) == 1
    # One staff account per role, each with TOTP; its password is printed once.
    for role in (Role.ADMIN, Role.SUPPORT, Role.COUNTER):
        staff = db.session.scalars(select(User).where(User.role == role)).all()
        assert staff and all(u.mfa_enabled and u.totp_secret for u in staff)
        assert all(u.email in result.output and u.totp_secret in result.output for u in staff)
    # ... and the printed password is the one that signs in.
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
    printed = re.search(rf"{re.escape(admin.email)}\s+password (\S+)", result.output).group(1)
    assert verify_password(admin.password_hash, printed)
    customers = db.session.scalars(select(User).where(User.role == Role.CUSTOMER)).all()
    assert {u.kind for u in customers} == {"individual", "foreigner", "company"}
    assert {u.tier for u in customers} == {Tier.REGULAR, Tier.PRIMARY}
    assert all(wallet.balance(u) > 0 for u in customers if u.tier == Tier.PRIMARY)
    # The demo's emails wait in the outbox rather than printing over the sign-ins.
    assert "mail to" not in result.output
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))

    again = runner.invoke(args=["ebiz", "seed-demo"])
    assert again.exit_code == 0 and "skipped" in again.output
    forced = runner.invoke(args=["ebiz", "seed-demo", "--force"])  # the demo is there already: said, not a crash
    assert forced.exit_code == 0 and "already in this database" in forced.output
    assert db.session.scalar(select(func.count()).select_from(Counter)) == 17
