"""Counter desk forms."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..forms import Form
from .service import DOCUMENT_TYPES, IDENTITY_CHECKS, PERSON_DOCUMENTS, PRESENT_KINDS


class FindCustomerForm(Form):
    class Meta:
        csrf = False  # a GET search: changes nothing

    q = StringField(_l("MyKad, passport, company number or email"), validators=[Length(max=254)])


class UpgradeForm(Form):
    document_type = SelectField(_l("Document checked"), choices=[SelectChoice(k, v) for k, v in DOCUMENT_TYPES.items()],
                                validators=[DataRequired()])
    document_number = StringField(_l("Number on the document"), validators=[DataRequired(), Length(max=30)])


class TopupForm(Form):
    amount = StringField(_l("Amount (RM)"), validators=[DataRequired(), Length(max=20)])
    receipt_no = StringField(_l("Counter receipt number"), validators=[DataRequired(), Length(max=60)])


def _choices(mapping):
    return [SelectChoice(k, v) for k, v in mapping.items()]


class CompanyUpgradeForm(Form):
    present = SelectField(_l("Who came to the counter"), choices=_choices(PRESENT_KINDS), validators=[DataRequired()])
    person_name = StringField(_l("Their name, as on the document"), validators=[DataRequired(), Length(max=200)])
    document_type = SelectField(_l("Their identity document"), choices=_choices(PERSON_DOCUMENTS),
                                validators=[DataRequired()])
    document_number = StringField(_l("Number on the document"), validators=[DataRequired(), Length(max=30)])
    identity_check = SelectField(_l("Identity check done"), choices=_choices(IDENTITY_CHECKS),
                                 validators=[DataRequired()])
    certificate_seen = BooleanField(_l("Company registration certificate (SSM) seen"))
    certificate_no = StringField(_l("Registration number on the certificate"), validators=[Length(max=30)])
