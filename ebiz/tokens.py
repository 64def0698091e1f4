"""Signed tokens by purpose, over itsdangerous.

Each purpose has its own salt and maximum age, so a token made for one
purpose never works for another. A token may carry a fingerprint of the state
it is allowed to change (for a password reset, a hash of the current password
hash): when that state changes, the token dies.
"""

import functools
import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES = {
    "password-reset": "PASSWORD_RESET_MAX_AGE",
    "email-change": "EMAIL_CHANGE_MAX_AGE",
    "registration": "EMAIL_CHANGE_MAX_AGE",  # the link that finishes a registration
    "download": "DOWNLOAD_LINK_MAX_AGE",
    "migration": "MIGRATION_LINK_MAX_AGE",
    "migration-ask": "MIGRATION_ASK_MAX_AGE",
    "support-confirm": "SUPPORT_CONFIRM_MAX_AGE",
    "support-access": "SUPPORT_ACCESS_MAX_AGE",
    "support-email-change": "EMAIL_CHANGE_MAX_AGE",
}


class TokenError(Exception):
    """Base for token failures; `reason` is 'invalid' or 'expired'."""

    reason = "invalid"


class TokenInvalid(TokenError):
    reason = "invalid"


class TokenExpired(TokenError):
    reason = "expired"


def fingerprint(*parts: object) -> str:
    """A short keyed hash of some state, to bind a token to it."""
    key = current_app.config["SECRET_KEY"].encode()
    msg = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _serializer_for(current_app.config["SECRET_KEY"], purpose)


@functools.lru_cache(maxsize=32)
def _serializer_for(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """Serializers are immutable and cost a little to build: one per key and purpose (a link is issued per click)."""
    return URLSafeTimedSerializer(secret_key, salt=f"ebiz.{purpose}")


def make_token(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None) -> dict:
    """Return the payload, or raise TokenExpired / TokenInvalid."""
    if max_age is None:
        max_age = int(current_app.config[PURPOSES[purpose]])
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired() from exc
    except BadSignature as exc:
        raise TokenInvalid() from exc
    if not isinstance(payload, dict):
        raise TokenInvalid()
    return payload


def peek_token(purpose: str, token: str) -> dict | None:
    """The payload of a token whatever its age or signature, or None: NEVER proof of anything.

    Only for offering a fresh token in place of a stale one; the caller checks ownership itself.
    """
    try:
        _ok, payload = _serializer(purpose).loads_unsafe(token)
    except Exception:  # noqa: BLE001 (garbage in: nothing to offer)
        return None
    return payload if isinstance(payload, dict) else None
