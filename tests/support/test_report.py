"""The monthly SLA and satisfaction report per category: page with chart, and CSV."""

import csv
import io
from datetime import datetime, timedelta

from ebiz.accounts.models import Role
from ebiz.clock import from_local
from ebiz.extensions import db
from ebiz.support import service
from tests.factories import make_user
from tests.payments.helpers import sign_in

from .helpers import open_ticket


def test_monthly_figures_per_category(app, client, monkeypatch):
    customer, agent = make_user(), make_user(role=Role.SUPPORT)
    t0 = from_local(datetime(2026, 11, 2, 9, 0))  # Monday
    monkeypatch.setattr(service, "utcnow", lambda: t0)
    quick = open_ticket(customer, category="payment")
    late = open_ticket(customer, category="payment")
    open_ticket(customer, category="downloads")
    monkeypatch.setattr(service, "utcnow", lambda: t0 + timedelta(minutes=30))
    service.agent_reply(quick, agent, body="Done", next_status="resolved")
    service.rate(quick, customer, rating=5)
    monkeypatch.setattr(service, "utcnow", lambda: t0 + timedelta(days=3))
    service.agent_reply(late, agent, body="Sorry, done", next_status="resolved")
    service.rate(late, customer, rating=2)
    monkeypatch.setattr(service, "utcnow", lambda: from_local(datetime(2026, 12, 1, 9, 0)))
    open_ticket(customer, category="payment")  # next month: not counted
    db.session.commit()
    figures = {f.category: f for f in service.monthly_report(2026, 11)}
    pay = figures["payment"]
    assert (pay.opened, pay.answered, pay.first_met, pay.resolved, pay.resolution_met) == (2, 2, 1, 2, 1)
    assert (pay.rated, pay.rating, pay.first_pct) == (2, 3.5, 50)
    assert figures["downloads"].opened == 1 and figures["downloads"].first_pct is None
    sign_in(client, agent)
    html = client.get("/support/desk/report?month=2026-11").get_data(as_text=True)
    assert 'data-testid="chart"' in html and "<svg" in html and "3.5" in html
    r = client.get("/support/desk/report.csv?month=2026-11")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    pay_row = next(row for row in rows if row["category"] == "payment")
    assert (pay_row["opened"], pay_row["first_response_within_sla"], pay_row["average_rating"]) == ("2", "1", "3.5")
    assert client.get("/support/desk/report?month=9999-99").status_code == 200  # a bad month: this month
    customer_client = app.test_client()
    sign_in(customer_client, customer)
    assert customer_client.get("/support/desk/report.csv").status_code == 403


def test_demo_has_a_ticket_in_every_state(app):
    from sqlalchemy import select

    from ebiz.support.models import STATUSES, Ticket

    result = app.test_cli_runner().invoke(args=["ebiz", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert set(db.session.scalars(select(Ticket.status))) == set(STATUSES)
