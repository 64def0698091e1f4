"""Templates' `_()` (ebiz.jinja_gettext) gives exactly what Flask-Babel's own callables give."""

from flask import render_template_string
from flask_babel import force_locale, refresh
from jinja2.ext import _make_new_gettext

TEMPLATE = ("{{ _('Catalogue') }}|{{ gettext('Catalogue') }}|{{ _('Search: %(q)s', q=q) }}|"
            "{{ _('Page %(n)d', n=3) }}|{{ _('100%% sure') }}|{{ _('not in the catalogue') }}")


def _flask_babel_render(app, **ctx):
    """The same template through Flask-Babel's original callable (the reference)."""
    from flask_babel import get_translations

    env = app.jinja_env
    saved = dict(env.globals)
    try:
        ref = _make_new_gettext(lambda s: get_translations().ugettext(s))
        env.globals.update(gettext=ref, _=ref)
        return render_template_string(TEMPLATE, **ctx)
    finally:
        env.globals.clear()
        env.globals.update(saved)


def test_same_output_as_flask_babel_in_both_languages(app):
    q = '<b>"x" & y</b>'
    for lang in ("ms", "en"):
        with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
            refresh()  # the test keeps one app context (and `g`) across both requests
            ours = render_template_string(TEMPLATE, q=q)
            assert ours == _flask_babel_render(app, q=q)
            assert "<b>" not in ours and "&lt;b&gt;" in ours  # variables are escaped
            assert "100% sure" in ours
            assert ours.startswith("Katalog|Katalog|" if lang == "ms" else "Catalogue|Catalogue|")


def test_force_locale_and_refresh_take_effect_within_a_request(app):
    with app.test_request_context("/", headers={"Cookie": "lang=ms"}):
        refresh()
        assert render_template_string("{{ _('Catalogue') }}") == "Katalog"
        with force_locale("en"):
            assert render_template_string("{{ _('Catalogue') }}") == "Catalogue"
        assert render_template_string("{{ _('Catalogue') }}") == "Katalog"
        from flask import request

        request.cookies = {"lang": "en"}  # as if the language were switched mid-request
        refresh()
        assert render_template_string("{{ _('Catalogue') }}") == "Catalogue"
