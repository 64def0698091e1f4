"""Counter desk forms."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..forms import Form
from .service import DOCUMENT_TYPES


class FindCustomerForm(Form):
    class Meta:
        csrf = False  # a GET search: changes nothing

    q = StringField(_l("Name, email, MyKad, passport or company number"), validators=[Length(max=254)])


class UpgradeForm(Form):
    document_type = SelectField(_l("Document checked"), choices=[SelectChoice(k, v) for k, v in DOCUMENT_TYPES.items()],
                                validators=[DataRequired()])
    document_number = StringField(_l("Number on the document"), validators=[DataRequired(), Length(max=30)])


class TopupForm(Form):
    amount = StringField(_l("Amount (RM)"), validators=[DataRequired(), Length(max=20)])
    receipt_no = StringField(_l("Counter receipt number"), validators=[DataRequired(), Length(max=60)])
