"""Pages that belong to no domain: home and the language switch; safe `next` targets.

On the foundations floor (ebiz/floors.py): it imports no domain, so every domain may use `safe_next`.
"""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for

bp = Blueprint("main", __name__)
LANG_COOKIE = "lang"  # the visitor's language choice (read by create_app's locale selector)


def safe_next(target: str | None, fallback: str) -> str:
    """A local path to go back to, or the fallback: never another site (no open redirect).

    A target holding any control character (CR, LF, TAB, NUL...) is refused whole: `urlsplit`
    silently drops some of them before we would check, and a Location header cannot carry them."""
    if not target or not isinstance(target, str) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return fallback
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "//[x": not a URL at all
        return fallback
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


@bp.get("/")
def home():
    return render_template("home.html")


@bp.post("/language")
def set_language():
    """Switch the language; the choice persists in a cookie for a year."""
    lang = request.form.get("lang", "")
    back = safe_next(request.form.get("next"), url_for("main.home"))
    response = redirect(back)
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
