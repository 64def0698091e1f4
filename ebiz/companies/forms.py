"""Company forms: the representative change (administrators)."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import Form


class RepresentativeForm(Form):
    full_name = StringField(_l("New representative's name"), validators=[DataRequired(), Length(max=200)])
    mykad = StringField(_l("New representative's MyKad number"), validators=[DataRequired(), Length(max=20)])
    reason = TextAreaField(_l("Reason for the change"), validators=[DataRequired(), Length(max=300)])
    # The support desk (issue 16) is being built: until then the reference is free text. Once tickets
    # exist this field takes the ticket number (and may be checked against the ticket).
    reference = StringField(_l("Reference (support ticket number or request)"),
                            validators=[DataRequired(), Length(max=60)])
