"""Migration forms (Flask-WTF, CSRF on each). The rules live in service.py."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..forms import Form


class ConfirmForm(Form):
    """The Yes / No buttons of the ask page (a CSRF token only)."""


class LinkForm(Form):
    full_name = StringField(_l("Full name (as on your identity document)"), validators=[Length(max=200)])
    phone = StringField(_l("Phone (optional)"), validators=[Optional(), Length(max=30)])
    address = TextAreaField(_l("Address (optional)"), validators=[Optional(), Length(max=500)])
    company_name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("New password"), validators=[Length(max=128)])
    confirm = PasswordField(_l("Repeat the password"), validators=[Length(max=128)])
    accept_terms = BooleanField(_l("I accept the current eBiz terms of use"))


class MergeForm(Form):
    accept_terms = BooleanField(_l("I accept the current eBiz terms of use"))


class CorrectEmailForm(Form):
    email = StringField(_l("New email"), validators=[Length(max=254)])
    reason = StringField(_l("Reason (what identity check was done)"), validators=[Length(max=300)])
    # The legacy account's support ticket (SR-XXXX-XXXX), assigned to the acting administrator: the
    # migration view checks it with the support desk before the change.
    ticket = StringField(_l("Support ticket"), validators=[Length(max=30)])


class SearchForm(Form):
    class Meta:
        csrf = False

    q = StringField(_l("Old id, name, email or identity number"), validators=[Optional(), Length(max=200)])
