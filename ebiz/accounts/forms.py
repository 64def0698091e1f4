"""Accounts forms (Flask-WTF, CSRF on each). Kind-specific rules live in service.register."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ..forms import Form
from .models import Kind

KIND_CHOICES = [SelectChoice(Kind.INDIVIDUAL.value, _l("Malaysian individual (MyKad)")),
                SelectChoice(Kind.FOREIGNER.value, _l("Non-citizen (passport)")),
                SelectChoice(Kind.COMPANY.value, _l("Company"))]


class RegisterForm(Form):
    kind = RadioField(_l("Account for"), choices=KIND_CHOICES, default=Kind.INDIVIDUAL.value,
                      validators=[DataRequired()])
    full_name = StringField(_l("Full name (as on your identity document)"), validators=[Length(max=200)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone (optional)"), validators=[Optional(), Length(max=30)])
    mykad = StringField(_l("MyKad number"), validators=[Length(max=20)])
    passport_no = StringField(_l("Passport number"), validators=[Length(max=30)])
    nationality = SelectField(_l("Nationality"), choices=[], validate_choice=False)
    company_reg_no = StringField(_l("Company registration number"), validators=[Length(max=20)])
    company_name = StringField(_l("Company name"), validators=[Length(max=200)])
    rep_mykad = StringField(_l("Representative's MyKad number"), validators=[Length(max=20)])
    password = PasswordField(_l("Password"), validators=[Length(max=128)])
    confirm = PasswordField(_l("Repeat the password"), validators=[Length(max=128)])  # checked by the service


class LoginForm(Form):
    login = StringField(_l("Email, MyKad or passport number"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class TotpForm(Form):
    code = StringField(_l("6-digit code from your authenticator app"),
                       validators=[DataRequired(), Length(min=6, max=8)])


class MfaSetupForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    code = StringField(_l("6-digit code from your authenticator app"),
                       validators=[DataRequired(), Length(min=6, max=8)])


class MfaDisableForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])


class ChangePasswordForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[EqualTo("new_password", message=_l("The two passwords differ."))])


class ChangeEmailForm(Form):
    new_email = StringField(_l("New email"), validators=[DataRequired(), Length(max=254)])
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])


class ForgotForm(Form):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class ResetForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[EqualTo("password", message=_l("The two passwords differ."))])


class ConfirmForm(Form):
    """A button only (its CSRF token)."""


class ProfileForm(Form):
    """What a customer may change themselves; identity numbers are corrected at a counter."""
    full_name = StringField(_l("Full name"), validators=[Length(max=200)])
    phone = StringField(_l("Phone (optional)"), validators=[Optional(), Length(max=30)])
    address = TextAreaField(_l("Postal address (optional)"), validators=[Optional(), Length(max=2000)])  # 500: service
