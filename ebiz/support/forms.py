"""Support desk forms (Flask-WTF: CSRF on every form)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from ..forms import Form
from .service import CATEGORY_LABELS, LINK_KINDS


def _categories():
    return [SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()]


class TicketForm(Form):
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("Your email address"), validators=[Optional(), Email(), Length(max=254)])
    category = SelectField(_l("What is it about?"), choices=_categories(), validators=[DataRequired()])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)],
                          render_kw={"autocomplete": "off"})
    body = TextAreaField(_l("Tell us what happened"), validators=[DataRequired(), Length(max=20000)])
    linked_kind = SelectField(_l("About this item"), choices=[SelectChoice("", "—")] +
                              [SelectChoice(k, v) for k, v in LINK_KINDS.items()], validate_choice=False)
    linked_ref = StringField(_l("Its reference"), validators=[Optional(), Length(max=40)])
    files = MultipleFileField(_l("Attachments (PDF, JPEG or PNG)"))


class LookupForm(Form):
    class Meta:
        csrf = False  # a GET search: changes nothing

    q = StringField(_l("Name, email or identity number"), validators=[Length(max=100)])


class ReplyForm(Form):
    body = TextAreaField(_l("Your reply"), validators=[DataRequired(), Length(max=20000)])
    files = MultipleFileField(_l("Attachments (PDF, JPEG or PNG)"))
    identity = BooleanField(_l("These files are identity documents (MyKad copy, photo holding it)"))


class AgentReplyForm(Form):
    body = TextAreaField(_l("Reply to the customer"), validators=[DataRequired(), Length(max=20000)])
    next_status = SelectField(_l("Then"), choices=[
        SelectChoice("waiting", _l("Wait for the customer")),
        SelectChoice("open", _l("Keep open")),
        SelectChoice("resolved", _l("Resolve"))], validators=[DataRequired()])
    files = MultipleFileField(_l("Attachments (PDF, JPEG or PNG)"))


class NoteForm(Form):
    body = TextAreaField(_l("Internal note (agents only)"), validators=[DataRequired(), Length(max=20000)])


class AssignForm(Form):
    assignee = SelectField(_l("Assign to"), choices=[], validate_choice=False)


class MergeForm(Form):
    into = StringField(_l("Duplicate of ticket"), validators=[DataRequired(), Length(max=20)])


class RatingForm(Form):
    rating = RadioField(_l("How did we do?"), choices=[SelectChoice(str(i), str(i)) for i in range(1, 6)],
                        validators=[DataRequired()])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])


class CannedForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=100)])
    body_en = TextAreaField(_l("Text in English"), validators=[DataRequired(), Length(max=5000)])
    body_ms = TextAreaField(_l("Text in Malay"), validators=[DataRequired(), Length(max=5000)])


class AllowanceForm(Form):
    entitlement_ref = StringField(_l("Download reference"), validators=[DataRequired(), Length(max=40)])
    add_downloads = IntegerField(_l("Downloads to add"), default=0, validators=[Optional(), NumberRange(0, 100)])
    extend_days = IntegerField(_l("Days to extend the download period"), default=0,
                               validators=[Optional(), NumberRange(0, 3650)])
    reason = StringField(_l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(min=5, max=300)])


class RequeryForm(Form):
    payment_ref = StringField(_l("Payment reference"), validators=[DataRequired(), Length(max=40)])


class ArticleForm(Form):
    slug = StringField(_l("Address (letters, digits, dashes)"), validators=[DataRequired(), Length(max=80)])
    topic = SelectField(_l("Topic"), choices=_categories(), validators=[DataRequired()])
    position = IntegerField(_l("Order in its topic"), default=0, validators=[Optional(), NumberRange(0, 1000)])
    title_ms = StringField(_l("Title in Malay"), validators=[DataRequired(), Length(max=200)])
    body_ms = TextAreaField(_l("Text in Malay (Markdown)"), validators=[DataRequired(), Length(max=20000)])
    title_en = StringField(_l("Title in English"), validators=[DataRequired(), Length(max=200)])
    body_en = TextAreaField(_l("Text in English (Markdown)"), validators=[DataRequired(), Length(max=20000)])
    published = BooleanField(_l("Published"), default=True)


class VoteForm(Form):
    helpful = SelectField(choices=[SelectChoice("yes", "yes"), SelectChoice("no", "no")],
                          validators=[DataRequired()])
    from_ticket = StringField(validators=[Optional(), Length(max=1)])


class EmailChangeForm(Form):
    identity_number = StringField(_l("The customer's MyKad or passport number"),
                                  validators=[DataRequired(), Length(max=20)])
    new_email = StringField(_l("New email address"), validators=[DataRequired(), Email(), Length(max=254)])


class RefundForm(Form):
    payment_ref = StringField(_l("Payment reference"), validators=[DataRequired(), Length(max=40)])
    amount = StringField(_l("Amount to return (RM)"), validators=[DataRequired(), Length(max=20)])
    note = StringField(_l("Why (kept with the refund)"), validators=[DataRequired(), Length(max=200)])


class RoutingForm(Form):
    """Checkboxes named r-<agent id> with a category as value; read from the request by the view."""
