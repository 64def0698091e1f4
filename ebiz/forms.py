"""The base of every form: Flask-WTF (CSRF on every form) with WTForms' own messages
("This field is required.", "Not a valid date value." ...) translated by our catalogues,
since WTForms ships no Malay. The messages are listed here so that extraction keeps them."""

from flask import flash
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

WTFORMS_MESSAGES = (
    _l("This field is required."),
    _l("Not a valid date value."),
    _l("Not a valid datetime value."),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid input."),
    _l("Invalid email address."),
    _l("Field must be equal to %(other_name)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("The CSRF token is missing."),
    _l("The CSRF token has expired."),
    _l("The CSRF token is invalid."),
)


class _Translations:
    """WTForms' translations interface over Flask-Babel (the request's language)."""

    def gettext(self, string):
        return gettext(string)

    def ngettext(self, singular, plural, n):
        return ngettext(singular, plural, n)


_TRANSLATIONS = _Translations()


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _TRANSLATIONS



def show_error(form, exc) -> None:
    """Put a service's EbizError message(s) beside their fields, or flash it when it has no field."""
    errors = exc.details.get("errors") or ({exc.field: str(exc.message)} if exc.field else {})
    placed = False
    for name, message in errors.items():
        field = getattr(form, name, None) if name else None
        if field is not None:
            field.errors = [*field.errors, str(message)]
            placed = True
    if not placed:
        flash(str(exc.message), "error")
