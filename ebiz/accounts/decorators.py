"""View decorators for staff pages.

`roles_required(*roles)`: the signed-in user must hold one of `roles`; a staff
user must also have TOTP enrolled and verified in this session (else they are
sent to the TOTP step or to enrolment). Anonymous users go to the sign-in page.
"""

from functools import wraps

from flask import abort, redirect, request, session, url_for
from flask_login import current_user

from ..extensions import login_manager

MFA_SESSION_KEY = "mfa_ok"


def mfa_verified() -> bool:
    """True when this session's user passed the TOTP step (or enrolled) since signing in."""
    return bool(current_user.is_authenticated and current_user.mfa_enabled
                and session.get(MFA_SESSION_KEY) == current_user.get_id())


def roles_required(*roles: str):
    """Allow the view only to signed-in users with one of `roles` (and, for staff, verified MFA)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            if current_user.is_staff and not mfa_verified():
                return redirect(url_for("accounts.mfa_setup", next=request.full_path.rstrip("?")))
            return view(*args, **kwargs)

        return wrapper

    return decorator
