"""HMAC-SHA256 signatures shared by eBiz and the sandbox gateway.

Server-to-server messages (callbacks, requery answers) are signed over their raw
body bytes; browser redirects to the gateway carry a signature over their sorted
query parameters. Verification uses a constant-time comparison.
"""

import hashlib
import hmac
from urllib.parse import urlencode


def sign(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def verify(secret: str, data: bytes, signature: str | None) -> bool:
    if not signature or not signature.isascii():  # (compare_digest refuses non-ASCII text)
        return False
    return hmac.compare_digest(sign(secret, data), signature.strip().lower())


def canonical(params: dict) -> bytes:
    """The bytes a parameter set is signed over: sorted key=value pairs, without `sig`."""
    return urlencode(sorted((k, str(v)) for k, v in params.items() if k != "sig" and v is not None)).encode()


def sign_params(secret: str, params: dict) -> dict:
    clean = {k: str(v) for k, v in params.items() if v is not None and k != "sig"}
    return {**clean, "sig": sign(secret, canonical(clean))}


def verify_params(secret: str, params: dict) -> bool:
    return verify(secret, canonical(params), params.get("sig"))
