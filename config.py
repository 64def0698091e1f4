"""Configuration classes, read from environment variables.

Every setting has an embedded default that lets `make run` work on a fresh
laptop (SQLite, local disk, console mail, the sandbox gateway, in-process
rate limits). Production sets the environment variables in README.md.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _dev_base_url() -> str:
    host = os.environ.get("FLASK_RUN_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104  (every interface: this machine's own address serves links)
        host = "127.0.0.1"
    port = os.environ.get("FLASK_RUN_PORT") or "5000"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-secret-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'ebiz.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SERVER_NAME = os.environ.get("SERVER_NAME") or None
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # Public base URL used in emails and QR codes (links that leave the request); unset, it follows
    # the host and port `flask run` / `make run PORT=...` serves on (FLASK_RUN_HOST, FLASK_RUN_PORT).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or _dev_base_url()
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    PROXY_FIX_COUNT = _int("PROXY_FIX_COUNT", 0)

    # Sessions: signed cookies, nothing in process memory.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = _int("SESSION_LIFETIME_SECONDS", 8 * 3600)
    # An unchanged session's cookie is re-signed (its expiry slid) at most this often (ebiz/sessions.py).
    SESSION_REFRESH_SECONDS = _int("SESSION_REFRESH_SECONDS", 300)
    WTF_CSRF_TIME_LIMIT = _int("CSRF_TIME_LIMIT_SECONDS", 8 * 3600)
    # Request bodies: an ordinary form or JSON body is small (a 413 above this); only views marked
    # `ebiz.forms.large_upload` (staff file uploads, streamed to storage) take up to UPLOAD_MAX_BYTES.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 512 * 1024)
    MAX_FORM_MEMORY_SIZE = _int("MAX_FORM_MEMORY_SIZE", 500 * 1024)  # one non-file field of a multipart form

    # Languages: Bahasa Malaysia by default, English on request.
    BABEL_DEFAULT_LOCALE = "ms"
    BABEL_DEFAULT_TIMEZONE = "Asia/Kuala_Lumpur"
    LANGUAGES = ("ms", "en")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    # Mail: outbox table; SMTP when MAIL_SERVER is set, else the console.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "eBiz <no-reply@ebiz.example.my>")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    # "inline": send right after the request's commit; "worker": requests only write the outbox and
    # `flask notifications worker` sends it (production, see ProductionConfig).
    MAIL_DELIVERY = os.environ.get("MAIL_DELIVERY", "inline")

    # Rate limits: in process by default, Redis in production.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    LOGIN_RATE_LIMIT_IP = os.environ.get("LOGIN_RATE_LIMIT_IP", "20 per minute")
    LOGIN_RATE_LIMIT_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "10 per 15 minutes")
    LOGIN_LOCKOUT_THRESHOLD = _int("LOGIN_LOCKOUT_THRESHOLD", 5)
    LOGIN_LOCKOUT_SECONDS = _int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
    # Argon2id cost of password hashes (argon2-cffi's defaults); stronger settings rehash at next sign-in.
    PASSWORD_HASH_TIME_COST = _int("PASSWORD_HASH_TIME_COST", 3)
    PASSWORD_HASH_MEMORY_KIB = _int("PASSWORD_HASH_MEMORY_KIB", 64 * 1024)

    # Tokens.
    PASSWORD_RESET_MAX_AGE = _int("PASSWORD_RESET_MAX_AGE", 3600)
    EMAIL_CHANGE_MAX_AGE = _int("EMAIL_CHANGE_MAX_AGE", 24 * 3600)

    # Accounts (registration and its emailed link, sign-in limits, the development mail viewer).
    REGISTER_RATE_LIMIT_IP = os.environ.get("REGISTER_RATE_LIMIT_IP", "10 per hour")
    REGISTER_RATE_LIMIT_IDENTITY = os.environ.get("REGISTER_RATE_LIMIT_IDENTITY", "3 per hour;5 per day")
    REGISTER_RATE_LIMIT_EMAIL = os.environ.get("REGISTER_RATE_LIMIT_EMAIL", "3 per hour;5 per day")
    # /dev/mail lists the outbox to signed-in staff: on under `make run` (DEBUG), a 404 elsewhere unless set.
    MAIL_VIEWER_ENABLED = _bool("MAIL_VIEWER_ENABLED", False)

    # Legacy migration (ebiz/migration/): the emailed link, the "is this email still yours?"
    # step after sign-in, how often a link may be sent, and the terms a migrating customer accepts.
    MIGRATION_LINK_MAX_AGE = _int("MIGRATION_LINK_MAX_AGE", 24 * 3600)
    MIGRATION_ASK_MAX_AGE = _int("MIGRATION_ASK_MAX_AGE", 30 * 60)
    MIGRATION_LINK_MIN_INTERVAL_SECONDS = _int("MIGRATION_LINK_MIN_INTERVAL_SECONDS", 60)
    MIGRATION_LINK_RATE_LIMIT = os.environ.get("MIGRATION_LINK_RATE_LIMIT", "5 per hour")
    TERMS_VERSION = os.environ.get("TERMS_VERSION", "2026-01")

    # Storage of product files.
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    STORAGE_DIR = os.environ.get("STORAGE_DIR", str(BASE_DIR / "storage"))
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_REGION = os.environ.get("S3_REGION", "ap-southeast-1")
    UPLOAD_MAX_BYTES = _int("UPLOAD_MAX_BYTES", 2 * 1024**3)
    DOWNLOAD_LINK_MAX_AGE = _int("DOWNLOAD_LINK_MAX_AGE", 600)

    # Payments.
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "sandbox")
    SANDBOX_GATEWAY_URL = os.environ.get("SANDBOX_GATEWAY_URL", "")  # empty: in-process blueprint
    SANDBOX_GATEWAY_SECRET = os.environ.get("SANDBOX_GATEWAY_SECRET", "sandbox-shared-secret")
    PAYMENT_INTENT_TTL_SECONDS = _int("PAYMENT_INTENT_TTL_SECONDS", 3600)
    RECONCILE_MIN_AGE_SECONDS = _int("RECONCILE_MIN_AGE_SECONDS", 15 * 60)
    RECONCILE_GIVE_UP_SECONDS = _int("RECONCILE_GIVE_UP_SECONDS", 4 * 3600)
    # The sandbox gateway's own database (it plays the bank: never eBiz's database).
    SANDBOX_DATABASE_URL = os.environ.get(
        "SANDBOX_DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'sandbox_gateway.db'}"
    )
    SANDBOX_CALLBACK_DELAY_SECONDS = _int("SANDBOX_CALLBACK_DELAY_SECONDS", 3)  # for callback mode "delay"
    PAYMENT_GATEWAY_TIMEOUT = _int("PAYMENT_GATEWAY_TIMEOUT", 10)  # seconds for requery calls

    # Wallet.
    WALLET_TOPUP_MIN_SEN = _int("WALLET_TOPUP_MIN_SEN", 1_000)
    WALLET_TOPUP_MAX_SEN = _int("WALLET_TOPUP_MAX_SEN", 1_000_000)
    WALLET_MAX_BALANCE_SEN = _int("WALLET_MAX_BALANCE_SEN", 5_000_000)

    # Applications for restricted data and remit (issue 14).
    APPLICATIONS_SLA_WORKING_DAYS = _int("APPLICATIONS_SLA_WORKING_DAYS", 14)
    APPLICATIONS_REMIND_WITHIN = _int("APPLICATIONS_REMIND_WITHIN", 2)  # working days before due
    APPLICATIONS_TWO_STEP = os.environ.get("APPLICATIONS_TWO_STEP", "1") not in ("0", "false", "no")
    APPLICATIONS_DOCUMENT_MAX_BYTES = _int("APPLICATIONS_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
    APPLICATIONS_MAX_DOCUMENTS = _int("APPLICATIONS_MAX_DOCUMENTS", 10)
    APPLICATIONS_DOCUMENT_RETENTION_DAYS = _int("APPLICATIONS_DOCUMENT_RETENTION_DAYS", 365)

    # Orders.
    ORDER_TTL_SECONDS = _int("ORDER_TTL_SECONDS", 24 * 3600)

    # The issuer printed on invoices, receipts and credit notes. AGENCY_ADDRESS takes one line per
    # address line (newlines, or a literal "\n" where the environment cannot hold a newline);
    # an empty AGENCY_SST_NO, AGENCY_PHONE or AGENCY_EMAIL is left off the documents.
    AGENCY_NAME = os.environ.get("AGENCY_NAME", "Jabatan Ukur dan Pemetaan Malaysia (JUPEM)")
    AGENCY_ADDRESS = os.environ.get(
        "AGENCY_ADDRESS", "Wisma JUPEM\nJalan Sultan Yahya Petra\n50578 Kuala Lumpur"
    ).replace("\\n", "\n")
    AGENCY_SST_NO = os.environ.get("AGENCY_SST_NO", "")
    AGENCY_PHONE = os.environ.get("AGENCY_PHONE", "")
    AGENCY_EMAIL = os.environ.get("AGENCY_EMAIL", "")

    # Logging (ebiz/logs.py): "json" or "keyvalue" lines with the request id on each, or "text"
    # (Flask's own lines). LOG_LEVEL is the least level written for eBiz's own loggers.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Support desk (help centre and tickets). SLA hours are WORKING hours (Mon-Fri 08:00-17:00
    # Malaysian time, public holidays of Malaysia and of SUPPORT_HOLIDAY_SUBDIV excluded).
    SUPPORT_HOLIDAY_SUBDIV = os.environ.get("SUPPORT_HOLIDAY_SUBDIV", "KUL")
    SUPPORT_ADDRESS = os.environ.get("SUPPORT_ADDRESS", "support@ebiz.example.my")
    SUPPORT_TEAM_LEAD_EMAIL = os.environ.get("SUPPORT_TEAM_LEAD_EMAIL", "support-lead@ebiz.example.my")
    SUPPORT_OPEN_RATE_LIMIT = os.environ.get("SUPPORT_OPEN_RATE_LIMIT", "10 per hour")  # tickets opened per IP
    SUPPORT_ATTACHMENT_MAX_BYTES = _int("SUPPORT_ATTACHMENT_MAX_BYTES", 5 * 1024**2)
    SUPPORT_REOPEN_DAYS = _int("SUPPORT_REOPEN_DAYS", 14)
    SUPPORT_CONFIRM_MAX_AGE = _int("SUPPORT_CONFIRM_MAX_AGE", 3 * 24 * 3600)  # an anonymous ticket's email link
    SUPPORT_ACCESS_MAX_AGE = _int("SUPPORT_ACCESS_MAX_AGE", 90 * 24 * 3600)  # the follow link in our mails
    SUPPORT_IDENTITY_RETENTION_DAYS = _int("SUPPORT_IDENTITY_RETENTION_DAYS", 90)
    SUPPORT_TICKET_RETENTION_DAYS = _int("SUPPORT_TICKET_RETENTION_DAYS", 7 * 365 + 2)
    SUPPORT_INBOUND_HOST = os.environ.get("SUPPORT_INBOUND_HOST", "127.0.0.1")
    SUPPORT_INBOUND_PORT = _int("SUPPORT_INBOUND_PORT", 2525)

    # Production refuses the sandbox gateway (it moves no real money) unless this is set, for staging.
    ALLOW_SANDBOX_GATEWAY = True

    # Stripe (PAYMENT_GATEWAY=stripe; ebiz/payments/stripe_gateway.py). STRIPE_API_BASE: a test
    # server (localstripe); empty for Stripe itself. Production refuses a test-mode key unless
    # EBIZ_STAGING=1 declares a staging server.
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
    STRIPE_WEBHOOK_TOLERANCE = _int("STRIPE_WEBHOOK_TOLERANCE", 300)  # seconds a signed event stays believable
    ALLOW_TEST_GATEWAY_KEY = True


class DevelopmentConfig(Config):
    DEBUG = True
    MAIL_VIEWER_ENABLED = _bool("MAIL_VIEWER_ENABLED", True)
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    PASSWORD_HASH_TIME_COST = 1  # still Argon2id, cheap enough for hundreds of sign-ins per run
    PASSWORD_HASH_MEMORY_KIB = 1024
    MAIL_SERVER = ""
    MAIL_DELIVERY = "inline"
    SERVER_NAME = None
    PUBLIC_BASE_URL = "http://localhost"
    LOG_FORMAT = "text"  # pytest's caplog reads Flask's own records


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    MAIL_DELIVERY = os.environ.get("MAIL_DELIVERY", "worker")  # run `flask notifications worker` beside it
    ALLOW_SANDBOX_GATEWAY = _bool("EBIZ_ALLOW_SANDBOX_GATEWAY", False)
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    ALLOW_TEST_GATEWAY_KEY = _bool("EBIZ_STAGING", False)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
