"""eBiz: the online store of a national mapping agency.

`create_app` builds the application: configuration, extensions, blueprints,
CLI commands, error handlers and the request rules every page shares
(one commit per request, security headers, language).
"""

import os
import re
import secrets
from pathlib import Path

from flask import Flask, abort, current_app, g, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import CONFIGS

from . import logs
from .db import begin_write
from .db_engine import configure_engine
from .errors import register_error_handlers
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .forms import MAX_ID, apply_body_limit
from .main_views import LANG_COOKIE
from .sessions import SteppedRefreshSessionInterface

ROOT = Path(__file__).resolve().parent.parent
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class DatabaseInt(IntegerConverter):
    """`<int:...>` in every URL: an id the database's INTEGER can hold; a larger number is a 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(config=None) -> Flask:
    """Build the app. `config` is a name from config.CONFIGS, a class, or None (EBIZ_ENV)."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), instance_path=str(ROOT / "instance"))
    app.url_map.converters["int"] = DatabaseInt  # before any route: <int:...> ids fit the database
    if config is None:
        config = os.environ.get("EBIZ_ENV", "development")
    app.config.from_object(CONFIGS[config] if isinstance(config, str) else config)
    logs.configure(app)
    if app.config["SECRET_KEY"] == "dev-only-secret-change-me" and not (app.debug or app.testing):
        raise RuntimeError("Set SECRET_KEY: the development default must not serve real users.")
    if app.config["PAYMENT_GATEWAY"] == "sandbox" and not app.config.get("ALLOW_SANDBOX_GATEWAY", True):
        raise RuntimeError("PAYMENT_GATEWAY=sandbox takes no real money: the production configuration refuses it. "
                           "Configure a real gateway, or set EBIZ_ALLOW_SANDBOX_GATEWAY=1 on a staging server.")
    if app.config["PAYMENT_GATEWAY"] == "stripe":
        from .payments.stripe_gateway import check_config  # only an app that takes money through Stripe loads it

        check_config(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.session_interface = SteppedRefreshSessionInterface()
    if app.config["PROXY_FIX_COUNT"]:
        # Behind N reverse proxies: trust their X-Forwarded-* (client IP for limits and audit).

        n = app.config["PROXY_FIX_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    _init_extensions(app)
    _register_blueprints(app)
    _wire_domains(app)
    _register_cli(app)
    _register_request_rules(app)
    _register_template_helpers(app)
    register_error_handlers(app)
    return app


def _init_extensions(app: Flask) -> None:
    # Inside the factory, as every domain import here: importing ebiz (say, for ebiz.money) must not
    # import every domain. This one registers every domain's tables, for Alembic and create_all.
    from . import models  # noqa: F401

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: "Asia/Kuala_Lumpur")


def _select_locale() -> str:
    wanted = request.cookies.get(LANG_COOKIE) if request else None
    if wanted in current_app.config["LANGUAGES"]:
        return wanted
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_blueprints(app: Flask) -> None:
    # Blueprints are imported inside the factory (DESIGN.md): importing the package builds no domain.
    from .accounts.views import bp as accounts_bp
    from .admin.mailbox import bp as dev_mail_bp
    from .admin.views import bp as admin_bp
    from .applications.views import bp as applications_bp
    from .audit.views import bp as audit_bp
    from .catalog.views import bp as catalog_bp
    from .counter.company_views import bp as company_bp
    from .counter.views import bp as counter_bp
    from .delivery.views import bp as delivery_bp
    from .health import bp as health_bp
    from .licensing.views import bp as licensing_bp
    from .licensing.views import verify_bp
    from .main_views import bp as main_bp
    from .migration.views import bp as migration_bp
    from .orders.views import bp as orders_bp
    from .payments.sandbox.views import bp as sandbox_bp
    from .payments.views import bp as payments_bp
    from .support.help_views import bp as help_bp
    from .support.views import bp as support_bp
    from .wallet.views import bp as wallet_bp

    for bp in (main_bp, accounts_bp, audit_bp, admin_bp, catalog_bp, licensing_bp, verify_bp, delivery_bp,
               payments_bp, wallet_bp, orders_bp, counter_bp, company_bp, dev_mail_bp, health_bp,
               applications_bp, support_bp, help_bp, migration_bp):
        app.register_blueprint(bp)
    if app.config.get("PAYMENT_GATEWAY") == "sandbox" and not app.config.get("SANDBOX_GATEWAY_URL"):
        app.register_blueprint(sandbox_bp)  # the sandbox gateway runs in this process


def _wire_domains(app: Flask) -> None:
    """Where a lower domain learns of a higher one, in one place (never at import time): the payable
    kinds and handlers payments calls, the licences the catalogue may name and the files it lists, the legacy detour at
    sign-in and the old orders in My orders. Each registration is idempotent (tests build many apps)."""
    # Inside the factory, like the blueprints: importing the package builds no domain.
    from .catalog import service as catalog_service
    from .delivery import service as delivery_service
    from .licensing import service as licensing_service
    from .migration import service as migration_service
    from .orders import service as orders_service
    from .payments import refunds as payment_refunds
    from .wallet import service as wallet_service

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "warning"
    orders_service.register_with_payments()
    wallet_service.register_with_payments()
    payment_refunds.register()
    catalog_service.register_licence_directory(licensing_service.LicenceDirectory())
    catalog_service.register_files_source(delivery_service.files_of_versions)
    migration_service.register_hooks()


def _register_cli(app: Flask) -> None:
    # Inside the factory, like the blueprints: each command group imports its whole domain.
    from .applications.cli import cli as applications_cli
    from .catalog.cli import cli as catalog_cli
    from .cli import ebiz_cli
    from .counter.cli import cli as counter_cli
    from .delivery.cli import cli as delivery_cli
    from .licensing.cli import cli as licensing_cli
    from .migration.cli import cli as migration_cli
    from .notifications.cli import cli as notifications_cli
    from .orders.cli import cli as orders_cli
    from .payments.cli import cli as payments_cli
    from .support.cli import cli as support_cli
    from .wallet.cli import cli as wallet_cli

    for group in (ebiz_cli, notifications_cli, catalog_cli, licensing_cli, delivery_cli, payments_cli,
                  wallet_cli, orders_cli, counter_cli, applications_cli, support_cli, migration_cli):
        app.cli.add_command(group)


def _register_request_rules(app: Flask) -> None:
    # First of all before-request functions (CSRF protection reads the form): the body limit.
    app.before_request_funcs.setdefault(None, []).insert(0, apply_body_limit)

    @app.before_request
    def _request_id():
        # Shown on error pages so the support desk can find the logged error; on every log line
        # (ebiz/logs.py) and, through the response header, in gunicorn's access log. A proxy's id
        # is kept only when it is a plain token: it goes into logs, so no spaces, quotes or newlines.
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID_RE.fullmatch(given) else secrets.token_hex(8)

    @app.after_request
    def _echo_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.before_request
    def _refuse_nul():
        # No text eBiz looks up or stores may hold a NUL character (PostgreSQL refuses it): a path
        # or query string with one is malformed (a 400, not a database error). Form fields drop
        # theirs (forms.Form); the body is not read here, so views that stream it still can.
        if "\x00" in request.path or any("\x00" in k + v for k, v in request.args.items(multi=True)) \
                or any("\x00" in v for v in request.headers.values()):  # the User-Agent is stored with licences
            abort(400)

    @app.before_request
    def _start_write_transaction():
        # One transaction per request; on SQLite a state-changing request
        # takes the write lock up front (see ebiz.db.begin_write).
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            begin_write()

    @app.after_request
    def _security_headers(response):
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        _no_store(response)
        return response

    def _no_store(response):
        # Pages are for the person who asked (receipts, statements, downloads, forms with their CSRF
        # token): no browser or shared cache keeps them. A signed-in user's responses always (over
        # send_file's "no-cache"); an anonymous one unless its view chose its own caching. Static
        # files (no one's data) keep theirs.
        if request.endpoint == "static":
            return
        signed_in = session.get("_user_id") is not None  # the cookie says so: no database read here
        if signed_in or not response.headers.get("Cache-Control"):
            response.headers["Cache-Control"] = "no-store, private"
            response.headers.pop("Expires", None)


def _register_template_helpers(app: Flask) -> None:
    # Inside the factory, like the blueprints: the labels and helpers import their domains' models.
    from . import jinja_gettext
    from .admin.forms import ROLE_LABELS
    from .clock import format_local
    from .licensing.text import licence_parts
    from .money import format_sen
    from .orders.models import LINE_STATUS_LABELS, ORDER_STATUS_LABELS
    from .payments.models import (
        INTENT_STATUS_LABELS,
        METHOD_LABELS,
        PENDING_REASON_LABELS,
        REFUND_REASON_LABELS,
        REFUND_STATUS_LABELS,
        REVIEW_NOTE_LABELS,
    )
    from .wallet.models import ADJUSTMENT_STATUS_LABELS

    labels = {"order_status": ORDER_STATUS_LABELS, "line_status": LINE_STATUS_LABELS,
              "payment_status": INTENT_STATUS_LABELS, "payment_method": METHOD_LABELS,
              "pending_reason": PENDING_REASON_LABELS, "refund_status": REFUND_STATUS_LABELS,
              "review_note": REVIEW_NOTE_LABELS, "refund_reason": REFUND_REASON_LABELS,
              "adjustment_status": ADJUSTMENT_STATUS_LABELS, "role": ROLE_LABELS}

    def label(code, kind: str) -> str:
        """`{{ order.status|label("order_status") }}`: a stored code as words in the current language."""
        return "" if code is None else str(labels[kind].get(code, code))

    app.jinja_env.filters["money"] = format_sen
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["licence_parts"] = licence_parts
    jinja_gettext.install(app.jinja_env)  # same strings as Flask-Babel's, ~10 µs less each

    @app.context_processor
    def _globals():
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"],
                "url_map_endpoints": app.view_functions}
