"""Helpers for company, runner and counter-sale tests."""

from datetime import timedelta

from ebiz.accounts.models import Kind, Role, Tier
from ebiz.clock import utcnow
from ebiz.companies import service as companies
from ebiz.extensions import db
from tests.factories import make_counter, make_user

RUNNER_MYKAD = "900101145678"


def company(*, tier=Tier.REGULAR, reg_no="201901012345", **fields):
    return make_user(kind=Kind.COMPANY, tier=tier, company_reg_no=reg_no, company_name=f"Syarikat {reg_no}",
                     full_name="Siti Aminah", rep_mykad="850615105523", **fields)


def staff_at(code="SGR"):
    from ebiz.counters.models import Counter

    counter = db.session.query(Counter).filter_by(code=code).one_or_none() or make_counter(code)
    return make_user(role=Role.COUNTER, counter=counter), counter


def otp_for(co, **mandate):
    args = dict(runner_name="Ahmad Runner", runner_id_type="mykad", runner_id_no=RUNNER_MYKAD, may_collect=True)
    args.update(mandate)
    otp, code = companies.issue_otp(co, **args)
    db.session.commit()
    return otp, code


def redeem(staff, co, code, runner=RUNNER_MYKAD, **kw):
    from ebiz.counter import service as counter

    return counter.open_runner_session(staff, company_reg_no=co.company_reg_no, code=code, runner_id_no=runner, **kw)


def soon(minutes=60):
    return utcnow() + timedelta(minutes=minutes)
