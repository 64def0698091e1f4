"""The ceiling of a wallet payment made through eBiz's own request stack, for wallet_spend.

eBiz's app (`ebiz.create_app()`, production config) with one extra route, `POST /bound/spend`,
which does what the pay view does around the payment (sign-in required: Flask-Login loads the
customer; CSRF checked; one write transaction per request; a flash message, so the session
cookie is signed again; a redirect) and, for the payment itself, `spend_bound.pay`'s bare SQL
statements on the request's own connection. So it is the most any signed-in eBiz endpoint
that records an order payment can reach, whatever the payment code: the rest of the gap to
the floor is Flask, the session, sign-in and CSRF, which every eBiz page has.

Run as `gunicorn 'tests.bench.stack_bound:create()'` with eBiz's bench environment; the tables
(`spend_bound.create_tables(url, wallet_sen=...)`) live in eBiz's own bench database.
"""

from flask import abort, flash, redirect
from flask_login import current_user, login_required

from ebiz import create_app
from ebiz.extensions import db

from . import spend_bound


def create(config=None):
    """eBiz's app (as `create_app(config)`) with the `POST /bound/spend` route."""
    app = create_app(config)
    app.add_url_rule("/bound/spend", view_func=bound_spend, methods=["POST"])
    return app


@login_required
def bound_spend():
    if not current_user.is_primary:
        abort(403)
    try:
        number = spend_bound.pay(db.session.connection(), wallet="bound_wallet")
        db.session.commit()
    except spend_bound.Refused:
        db.session.rollback()
        abort(409)
    flash(f"Payment successful (RCP-{number:06d})", "success")
    return redirect("/")
