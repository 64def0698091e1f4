"""The base of every form: Flask-WTF (CSRF on every form) with WTForms' own messages
("This field is required.", "Not a valid date value." ...) translated by our catalogues,
since WTForms ships no Malay. The messages are listed here so that extraction keeps them."""

from flask import current_app, flash, request
from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField as _WTFormsIntegerField
from wtforms.validators import ValidationError

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
    """WTForms' translations interface over Flask-Babel's catalogue of the request's language.

    The strings go back unformatted: WTForms fills in %(min)d, %(max)d itself (Flask-Babel's own
    gettext/ngettext would try first, and fail on them)."""

    def gettext(self, string):
        return get_translations().ugettext(string)

    def ngettext(self, singular, plural, n):
        return get_translations().ungettext(singular, plural, n)


_TRANSLATIONS = _Translations()


def _without_nul(value):
    """A form's text never keeps a NUL character: no column can hold one (PostgreSQL refuses it)."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):
            return _TRANSLATIONS

        def bind_field(self, form, unbound_field, options):
            options["filters"] = (*unbound_field.kwargs.get("filters", ()), _without_nul)
            return unbound_field.bind(form=form, **options)



def large_upload(view):
    """Mark a view that takes a file upload: its body may hold up to UPLOAD_MAX_BYTES (every other
    request stops at MAX_CONTENT_LENGTH). Werkzeug spools the file part to disk as it reads it,
    and the view streams it on to storage; see `apply_body_limit`."""
    view.large_upload = True
    return view


def upload_limit(config_key: str, files: int = 1):
    """Mark a view where a customer (or anyone) sends documents of at most `config[config_key]`
    bytes each, `files` of them at most: its body may hold them beside the form's own fields. The
    service still checks each file's size and content; this only keeps every other body small."""
    def mark(view):
        view.upload_limit = (config_key, files)
        return view
    return mark


def apply_body_limit() -> None:
    """Before anything reads the body (CSRF checking reads the form): the body limit of this
    request's view (Flask's per-request `max_content_length`). Only signed-in staff may send a
    large body, even to an upload view: the body is read (for its CSRF token) before the view
    checks who is asking."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "large_upload", False) and current_user.is_authenticated and current_user.is_staff:
        # the file plus the form's other fields: a file just over UPLOAD_MAX_BYTES still reaches
        # the storage's own check, which says the limit beside the field
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"] + current_app.config["MAX_CONTENT_LENGTH"]
    elif (spec := getattr(view, "upload_limit", None)) is not None:
        key, files = spec
        request.max_content_length = current_app.config[key] * files + current_app.config["MAX_CONTENT_LENGTH"]


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


MAX_ID = 2**31 - 1  # the database's INTEGER: ids and counts above it are no row of ours
MAX_PAGE = 10_000  # deeper than any listing is read; beyond it a page number is noise
FIRST_YEAR, LAST_YEAR = 1900, 2100  # the dates a form takes (outside: not a date anyone means)


def int_id(text: str | None) -> int | None:
    """A row id typed in a form field or a field name ("12"), or None: ASCII digits, within MAX_ID."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 10 or int(text) > MAX_ID:
        return None
    return int(text)


def plain_int(text) -> int | None:
    """A whole number as a person types it ("12", "-3"), or None. Not Python's `int()` syntax:
    no "1_000", no "١٢" or "²", no "+5"; at most 18 digits (no number we keep is larger)."""
    text = (text or "").strip() if isinstance(text, str) else ""
    digits = text[1:] if text.startswith("-") else text
    if not digits or len(digits) > 18 or not (digits.isascii() and digits.isdecimal()):
        return None
    return int(text)


def page_arg(value=None) -> int:
    """The ?page= of a listing (or `value`), from 1 to MAX_PAGE (not a number: the first page)."""
    page = plain_int(request.args.get("page") if value is None else value) or 1
    return min(max(page, 1), MAX_PAGE)


class IntegerField(_WTFormsIntegerField):
    """WTForms' IntegerField reads its text with `int()`, which takes "1_000", "١٢" and
    " 12 ": this one takes only what `plain_int` takes (else "Not a valid integer value.")."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = plain_int(valuelist[0])
        if self.data is None:
            raise ValueError(self.gettext("Not a valid integer value."))


def year_in_range(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


class DateInRange:
    """A WTForms validator: the date (or date and time) falls between FIRST_YEAR and LAST_YEAR."""

    def __call__(self, form, field):
        if field.data is not None and not year_in_range(field.data.year):
            raise ValidationError(_l("Enter a date between %(first)d and %(last)d.", first=FIRST_YEAR,
                                     last=LAST_YEAR))
