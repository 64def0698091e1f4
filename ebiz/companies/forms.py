"""Company forms: the representative change (administrators)."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import Form


class RepresentativeForm(Form):
    full_name = StringField(_l("New representative's name"), validators=[DataRequired(), Length(max=200)])
    mykad = StringField(_l("New representative's MyKad number"), validators=[DataRequired(), Length(max=20)])
    reason = TextAreaField(_l("Reason for the change"), validators=[DataRequired(), Length(max=300)])
    # The company's support ticket (SR-XXXX-XXXX), assigned to the acting administrator: the admin view
    # checks it with the support desk before the change (companies, a lower floor, never imports support).
    ticket = StringField(_l("Support ticket"), validators=[DataRequired(), Length(max=30)])
