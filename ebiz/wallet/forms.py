"""Wallet forms (Flask-WTF, CSRF on each)."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import DateInRange, Form
from ..payments.banks import FPX_BANKS


class TopupForm(Form):
    amount = StringField(_l("Amount (RM)"), validators=[DataRequired(), Length(max=20)])
    method = RadioField(_l("Pay by"), choices=[SelectChoice("fpx", _l("FPX online banking")),
                                               SelectChoice("card", _l("Visa or Mastercard credit/debit card"))],
                        default="fpx", validators=[DataRequired()])
    bank_code = SelectField(_l("Bank (for FPX)"), choices=[SelectChoice("", _l("Choose your bank"))]
                            + [SelectChoice(b.code, b.name) for b in FPX_BANKS], validators=[Optional()])
    nonce = HiddenField()


class StatementFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter: it changes nothing

    date_from = DateField(_l("From"), validators=[Optional(), DateInRange()])
    date_to = DateField(_l("To"), validators=[Optional(), DateInRange()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class AdjustmentForm(Form):
    customer = StringField(_l("Customer email"), validators=[DataRequired(), Length(max=254)])
    amount = StringField(_l("Amount (RM, negative to debit)"), validators=[DataRequired(), Length(max=20)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


class DecideForm(Form):
    decision = HiddenField(validators=[DataRequired()])
