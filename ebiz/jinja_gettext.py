"""A faster `_()`/`gettext` for templates, with Flask-Babel's exact results.

Flask-Babel's Jinja callables find the request's translations anew for every
string (three context lookups, about 10 µs); Jinja's newstyle wrapper then
adds a second dispatch through `_gettext_alias`. A catalogue page translates
about 40 strings, so that was ~0.5 ms of every page. Here the translations
object is remembered per request, keyed on the very locale and domain objects
Flask-Babel keeps for the request, so `force_locale`, `refresh` and a changed
domain still take effect at once. Output is the same as Jinja's newstyle
gettext: the result is Markup under autoescape and `%(name)s` is formatted
with escaped variables.
"""

from flask import g
from flask_babel import get_translations
from jinja2 import pass_context
from markupsafe import Markup


def request_translations():
    """The translations Flask-Babel would use now (memoised per request, locale and domain)."""
    if not g:  # no app context: Flask-Babel answers with NullTranslations
        return get_translations()
    ns = g.get("_flask_babel")
    if ns is not None:
        hit = getattr(ns, "ebiz_translations", None)
        if hit is not None and hit[0] is getattr(ns, "babel_locale", None) \
                and hit[1] is getattr(ns, "babel_domain", None):
            return hit[2]
    translations = get_translations()
    ns = g.get("_flask_babel")
    locale = getattr(ns, "babel_locale", None)
    if locale is not None:
        ns.ebiz_translations = (locale, getattr(ns, "babel_domain", None), translations)
    return translations


@pass_context
def gettext(context, string, **variables):
    rv = request_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)  # noqa: S704 (catalogue text, trusted; as in Jinja's own newstyle gettext)
    # Jinja's newstyle gettext always does `rv % variables`; with no variables and no "%"
    # that is the identity, so it is skipped.
    return rv % variables if variables or "%" in rv else rv


def install(jinja_env) -> None:
    """Replace the `gettext` and `_` template globals Flask-Babel installed (call after babel.init_app)."""
    jinja_env.globals.update(gettext=gettext, _=gettext)
