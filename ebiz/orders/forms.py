"""Orders forms (CSRF on every one)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import MAX_ID, Form, IntegerField
from .models import REQUEST_MAX


class AddToCartForm(Form):
    product_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)])
    session_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[Optional(), NumberRange(min=1, max=99)])
    request_note = TextAreaField(_l("What should we extract?"), validators=[Optional(), Length(max=REQUEST_MAX)])
    next = HiddenField()


class CartItemForm(Form):
    quantity = IntegerField(_l("Quantity"), validators=[InputRequired(), NumberRange(min=0, max=99)])


class CheckoutForm(Form):
    """Licence checkboxes are named `licence_<product id>` with the shown hash as value (read by the view)."""

    checkout_key = HiddenField(validators=[DataRequired()])
    collect_counter_id = SelectField(_l("Collect printed products at"), coerce=int, choices=[],
                                     validate_choice=False, validators=[Optional(), NumberRange(max=MAX_ID)])


class PayForm(Form):
    method = RadioField(_l("Pay by"), choices=[SelectChoice("wallet", _l("eBiz wallet")),
                                               SelectChoice("fpx", _l("FPX online banking")),
                                               SelectChoice("card", _l("Credit or debit card (Visa, Mastercard)"))],
                        validators=[DataRequired(message=_l("Choose how to pay."))])
    bank_code = SelectField(_l("Your bank (FPX)"), choices=[], validate_choice=False, validators=[Optional()])
    idempotency_key = HiddenField(validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        from ..payments.banks import FPX_BANKS

        super().__init__(*args, **kwargs)
        self.bank_code.choices = [SelectChoice("", _l("Choose your bank"))] + [
            SelectChoice(b.code, b.name) for b in FPX_BANKS]  # corporate banks say so in their names


class CancelForm(Form):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=300)])


class MarkLineForm(Form):
    to = SelectField(choices=[SelectChoice("ready", _l("Ready for collection")),
                              SelectChoice("collected", _l("Collected"))])


class AttachForm(Form):
    file = FileField(_l("File"), validators=[FileRequired(message=_l("Choose a file to attach."))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
