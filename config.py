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


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-secret-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'ebiz.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SERVER_NAME = os.environ.get("SERVER_NAME") or None
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # Public base URL used in emails and QR codes (links that leave the request).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
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
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 2 * 1024**3)

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


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    MAIL_DELIVERY = os.environ.get("MAIL_DELIVERY", "worker")  # run `flask notifications worker` beside it
    ALLOW_SANDBOX_GATEWAY = _bool("EBIZ_ALLOW_SANDBOX_GATEWAY", False)
    ALLOW_TEST_GATEWAY_KEY = _bool("EBIZ_STAGING", False)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
