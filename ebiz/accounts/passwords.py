"""Password hashing with Argon2id (memory-hard), via argon2-cffi.

The cost comes from PASSWORD_HASH_TIME_COST / PASSWORD_HASH_MEMORY_KIB (argon2-cffi's
defaults outside an app). A hash made with other settings still verifies, and
`needs_rehash` tells the sign-in to store it again with the current ones.
"""

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context


@lru_cache(maxsize=8)
def _make(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def _hasher() -> PasswordHasher:
    if not has_app_context():
        return _make(3, 64 * 1024)
    cfg = current_app.config
    return _make(int(cfg.get("PASSWORD_HASH_TIME_COST", 3)), int(cfg.get("PASSWORD_HASH_MEMORY_KIB", 64 * 1024)))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
