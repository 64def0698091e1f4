"""Counter desk forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .service import DOCUMENT_TYPES


class FindCustomerForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: changes nothing

    q = StringField(_l("MyKad, passport, company number or email"), validators=[Length(max=254)])


class UpgradeForm(FlaskForm):
    document_type = SelectField(_l("Document checked"), choices=[SelectChoice(k, v) for k, v in DOCUMENT_TYPES.items()],
                                validators=[DataRequired()])
    document_number = StringField(_l("Number on the document"), validators=[DataRequired(), Length(max=30)])


class TopupForm(FlaskForm):
    amount = StringField(_l("Amount (RM)"), validators=[DataRequired(), Length(max=20)])
    receipt_no = StringField(_l("Counter receipt number"), validators=[DataRequired(), Length(max=60)])
