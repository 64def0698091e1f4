"""Application forms (Flask-WTF, CSRF on each)."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import DateInRange, Form
from .service import CATEGORIES, MAX_TEXT

_DEG = r"\s*-?\d{1,3}(\.\d+)?\s*"
BBOX_RE = re.compile(rf"^{_DEG},{_DEG},{_DEG},{_DEG}$")


class ApplicationForm(Form):
    products = SelectMultipleField(_l("Products"), coerce=int, validators=[Optional()])
    wants_data = BooleanField(_l("I apply for restricted data"), default=True)
    wants_remit = BooleanField(_l("I apply for a remit (a waiver or reduction of the price)"))
    applicant_category = SelectField(_l("Who is applying"), choices=[SelectChoice("", _l("Choose"))] + [
        SelectChoice(k, v) for k, v in CATEGORIES.items()], validators=[Optional()])
    agency = StringField(_l("Project or agency"), validators=[Optional(), Length(max=200)])
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=MAX_TEXT)])
    intended_use = TextAreaField(_l("Intended use"), validators=[Optional(), Length(max=MAX_TEXT)])
    area_state = StringField(_l("Area of interest: state"), validators=[Optional(), Length(max=60)])
    area_district = StringField(_l("Area of interest: district"), validators=[Optional(), Length(max=80)])
    bbox = StringField(_l("Bounding box (optional): west, south, east, north in degrees"),
                       validators=[Optional(), Length(max=120)])
    period_from = DateField(_l("Period of use: from"), validators=[Optional(), DateInRange()])
    period_to = DateField(_l("Period of use: to"), validators=[Optional(), DateInRange()])
    declaration = BooleanField(_l("I declare that I understand the data is classified, that its use is bound by "
                                  "the Official Secrets Act 1972 and by the conditions of the licence, and that "
                                  "the information I give is true."))

    def validate_bbox(self, field):
        if field.data and not BBOX_RE.match(field.data):
            raise ValidationError(_l("Give four numbers: west, south, east, north (e.g. 101.5, 2.8, 101.8, 3.2)."))

    def validate_period_to(self, field):
        if field.data and self.period_from.data and field.data < self.period_from.data:
            raise ValidationError(_l("The period of use ends before it starts."))


class DocumentForm(Form):
    document = FileField(_l("Supporting document (PDF, JPEG or PNG)"),
                         validators=[FileRequired(_l("Choose a file to upload."))])


class AnswerForm(Form):
    answer = TextAreaField(_l("Your answer"), validators=[DataRequired(), Length(max=MAX_TEXT)])


class ActionForm(Form):
    """A button that only needs CSRF (submit, withdraw)."""


class InfoRequestForm(Form):
    question = TextAreaField(_l("Information needed from the applicant"),
                             validators=[DataRequired(), Length(max=MAX_TEXT)])


class RecommendForm(Form):
    recommendation = RadioField(_l("Recommendation"), choices=[SelectChoice("approve", _l("Approve")),
                                                               SelectChoice("reject", _l("Reject"))],
                                validators=[DataRequired()])
    notes = TextAreaField(_l("Notes for the approver"), validators=[DataRequired(), Length(max=MAX_TEXT)])


class ApproveForm(Form):
    valid_until = DateField(_l("Valid until"), validators=[DataRequired(), DateInRange()])
    conditions = TextAreaField(_l("Conditions (printed on the licence)"),
                               validators=[DataRequired(), Length(max=MAX_TEXT)])
    remit_kind = SelectField(_l("Remit"), choices=[SelectChoice("", _l("None: the list price")),
                                                   SelectChoice("percent", _l("Percentage reduction")),
                                                   SelectChoice("fixed", _l("Fixed reduction (RM)"))],
                             validators=[Optional()])
    remit_value = StringField(_l("Reduction (percent, or RM)"), validators=[Optional(), Length(max=20)])


class RejectForm(Form):
    reason = TextAreaField(_l("Reason (shown to the applicant)"), validators=[DataRequired(), Length(max=MAX_TEXT)])


class QueueFilterForm(Form):
    class Meta:
        csrf = False

    state = SelectField(_l("Status"), validators=[Optional()])
    product = SelectField(_l("Product"), coerce=lambda v: int(v) if str(v).isdigit() else None,
                          validators=[Optional()])
    older_than = SelectField(_l("Submitted"), choices=[SelectChoice("", _l("Any time")),
                                                       SelectChoice("7", _l("More than 7 days ago")),
                                                       SelectChoice("14", _l("More than 14 days ago")),
                                                       SelectChoice("30", _l("More than 30 days ago"))],
                             validators=[Optional()])


class ReviewerForm(Form):
    email = StringField(_l("Staff member's email"), validators=[DataRequired(), Length(max=254)])
