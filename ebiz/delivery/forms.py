"""Delivery forms (Flask-WTF: CSRF on every form)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import Form, IntegerField


class UploadForm(Form):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))])


class RemoveFileForm(Form):
    pass


class AdjustForm(Form):
    add_downloads = IntegerField(_l("Downloads to add"), default=0,
                                 validators=[Optional(), NumberRange(min=0, max=100)])
    extend_days = IntegerField(_l("Days to extend the download period"), default=0,
                               validators=[Optional(), NumberRange(min=0, max=3650)])
    reason = StringField(_l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(min=5, max=300)])
