"""Payments forms (Flask-WTF, CSRF on each)."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import Form


class CheckAgainForm(Form):
    """The "Check again" button on a pending payment (CSRF only)."""


class ResolveRefundForm(Form):
    note = TextAreaField(_l("How was the money returned?"), validators=[DataRequired(), Length(max=300)])


class GatewayRefundForm(Form):
    """Staff approve returning a queued refund through the gateway (CSRF only)."""


class ReviewedForm(Form):
    """Staff mark a flagged (late) payment as reviewed."""


class PaymentMethodFields:
    """Shared choices for forms that pick FPX (with a bank) or a card."""


class ReferenceForm(Form):
    reference = StringField(_l("Reference"), validators=[DataRequired(), Length(max=24)])
