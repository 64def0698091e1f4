"""Counter desk forms."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..companies.service import ID_TYPES
from ..forms import DateInRange, Form
from .service import (
    COLLECTORS,
    DOCUMENT_TYPES,
    IDENTITY_CHECKS,
    OPEN_DAYS,
    PERSON_DOCUMENTS,
    PRESENT_KINDS,
    SALE_METHODS,
)


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


class RunnerOtpForm(Form):
    """A company's runner OTP and its mandate."""

    runner_name = StringField(_l("Runner's name, as on their document"), validators=[DataRequired(), Length(max=200)])
    runner_id_type = SelectField(_l("Runner's identity document"), choices=_choices(ID_TYPES),
                                 validators=[DataRequired()])
    runner_id_no = StringField(_l("Number on the runner's document"), validators=[DataRequired(), Length(max=30)])
    expires_at = DateTimeLocalField(_l("Valid until (Malaysia time)"), format="%Y-%m-%dT%H:%M",
                                    validators=[Optional(), DateInRange()])
    may_collect = BooleanField(_l("Collect orders ready for collection"), default=True)
    may_buy = BooleanField(_l("Buy printed products and training seats"))
    may_use_wallet = BooleanField(_l("Pay from the company's wallet (Primary companies)"))
    cap = StringField(_l("Spending cap (RM)"), default="0.00", validators=[Length(max=20)])
    counter_id = SelectField(_l("Counter"), choices=[], validate_choice=False)


class RedeemForm(Form):
    company_reg_no = StringField(_l("Company registration number"), validators=[DataRequired(), Length(max=30)])
    code = StringField(_l("Runner OTP (8 digits)"), validators=[DataRequired(), Length(max=20)])
    runner_id_no = StringField(_l("Number on the runner's MyKad or passport"),
                               validators=[DataRequired(), Length(max=30)])


class CollectForm(Form):
    collected_by = SelectField(_l("Who is collecting"), choices=_choices(COLLECTORS), validators=[DataRequired()])
    collector_id_no = StringField(_l("Number on their MyKad or passport"), validators=[Length(max=30)])


class SaleForm(Form):
    item = SelectField(_l("Product"), choices=[], validate_choice=False, validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[DataRequired(), NumberRange(min=1, max=99)])
    method = SelectField(_l("Payment"), choices=_choices(SALE_METHODS), validators=[DataRequired()])
    approval_code = StringField(_l("Card terminal approval code"), validators=[Length(max=20)])
    terms_accepted = BooleanField(_l("The buyer read and accepted the product's terms (training)"))
    sale_key = HiddenField()


class DayEndForm(Form):
    class Meta:
        csrf = False  # a GET report: changes nothing

    day = DateField(_l("Day"), validators=[Optional(), DateInRange()])


class CsrfForm(Form):
    """A button that changes something: its CSRF token is all it sends."""


class CounterForm(Form):
    """An administrator's edit of a counter: where it is, its phone, when it opens."""
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    state = StringField(_l("State"), validators=[DataRequired(), Length(max=60)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=300)],
                            description=_l("One line per line of the address."), render_kw={"rows": 4})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    open_days = SelectField(_l("Working days"), choices=[SelectChoice("", "—")]
                            + [SelectChoice(k, v) for k, v in OPEN_DAYS.items()], validators=[Optional()])
    opens_at = TimeField(_l("Opens at (Malaysia time)"), validators=[Optional()])
    closes_at = TimeField(_l("Closes at (Malaysia time)"), validators=[Optional()])
    active = BooleanField(_l("Open to the public"))
