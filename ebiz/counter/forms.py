"""Counter desk forms."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..forms import Form
from .service import DOCUMENT_TYPES, OPEN_DAYS


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
