"""The demo data includes a company's runners and counter sales, and its books balance."""

import re

from sqlalchemy import select

from ebiz.accounts.models import User
from ebiz.clock import to_local, utcnow
from ebiz.companies import service as companies
from ebiz.companies.models import OtpStatus, RunnerOtp
from ebiz.counter import service as counter_service
from ebiz.counter.models import CounterSale
from ebiz.extensions import db
from ebiz.wallet import service as wallet


def test_demo_has_runner_otps_and_counter_sales(app):
    result = app.test_cli_runner().invoke(args=["ebiz", "seed-demo"])
    assert result.exit_code == 0, result.output
    company = db.session.scalar(select(User).where(User.email == "ukur@example.my"))
    otps = db.session.scalars(select(RunnerOtp).order_by(RunnerOtp.id)).all()
    assert [o.status for o in otps] == [OtpStatus.LIVE, OtpStatus.USED]
    code = re.search(r"runner OTP for .*: (\d{8}) ", result.output).group(1)
    assert otps[0].code_hash == companies.code_hash(company.id, code)  # the printed code works at a counter
    sales = db.session.scalars(select(CounterSale).order_by(CounterSale.id)).all()
    assert [s.method for s in sales] == ["wallet", "cash", "terminal"] and sales[0].runner_session_id
    staff = db.session.scalar(select(User).where(User.email == "sgr.counter@ebiz.example.my"))
    report = counter_service.day_end(staff, to_local(utcnow()).date())
    assert report["agrees"] and report["total"] == sum(s.amount_sen for s in sales)
    assert wallet.verify() == []
