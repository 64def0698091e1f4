"""Staff forms for the catalogue (Flask-WTF: CSRF on every form)."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import DateInRange, Form, IntegerField, int_id
from ..money import MoneyFormatError, parse_ringgit


class ProductForm(Form):
    sku = StringField(_l("SKU"), validators=[DataRequired(), Length(max=40)])
    name_ms = StringField(_l("Name (Bahasa Malaysia)"), validators=[DataRequired(), Length(max=200)])
    name = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=200)])
    description_ms = TextAreaField(_l("Description (Bahasa Malaysia)"), validators=[Optional(), Length(max=20000)])
    description = TextAreaField(_l("Description (English)"), validators=[Optional(), Length(max=20000)])
    type = SelectField(_l("Type"), choices=[SelectChoice("digital", _l("Digital data")),
                                            SelectChoice("printed", _l("Printed product")),
                                            SelectChoice("service", _l("Service"))])
    service_kind = SelectField(_l("Kind of service"),
                               choices=[SelectChoice("", "—"), SelectChoice("training", _l("Training programme")),
                                        SelectChoice("extraction", _l("On-demand digital service"))],
                               validators=[Optional()])
    category_id = SelectField(_l("Category"), coerce=lambda v: int_id(str(v)) if v not in (None, "", "None") else None,
                              validators=[Optional()])
    price = StringField(_l("Price (RM)"), validators=[DataRequired()])
    restricted = BooleanField(_l("Restricted data (needs an approved application)"))
    # Choices come from the licences the app knows (set by the view); the service refuses an
    # unknown key with a message beside this field, clearer than "Not a valid choice".
    licence_key = SelectField(_l("Licence"), choices=[], validate_choice=False,
                              description=_l("Required for digital data and on-demand digital services."))
    permitted_use = TextAreaField(_l("Permitted use"), validators=[Optional(), Length(max=2000)])
    state = SelectField(_l("State"), choices=[], validate_choice=False)  # the service checks the name
    district = StringField(_l("District"), validators=[Optional(), Length(max=80)])
    data_format = StringField(_l("Format"), validators=[Optional(), Length(max=40)])
    crs = StringField(_l("Coordinate reference system"), validators=[Optional(), Length(max=60)])
    allowed_extensions = StringField(_l("Allowed file types"), validators=[Optional(), Length(max=200)],
                                     description=_l("Comma-separated, e.g. .zip,.gpkg (empty: the usual data types)"))
    download_limit = IntegerField(_l("Downloads per purchase"), default=5, validators=[NumberRange(min=1, max=100)])
    download_window_days = IntegerField(_l("Download period (days)"), default=30,
                                        validators=[NumberRange(min=1, max=3650)])
    stock = IntegerField(_l("Stock (printed products)"), validators=[Optional(), NumberRange(min=0, max=1_000_000)])

    def price_sen(self) -> int | None:
        try:
            return parse_ringgit(self.price.data)
        except MoneyFormatError:
            self.price.errors = [*self.price.errors, _l("Enter an amount like 25.00")]
            return None

    def to_data(self) -> dict:
        return {
            "sku": self.sku.data, "name": self.name.data, "name_ms": self.name_ms.data,
            "description": self.description.data or "", "description_ms": self.description_ms.data or None,
            "type": self.type.data, "service_kind": self.service_kind.data or None,
            "category_id": self.category_id.data, "price_sen": self.price_sen(),
            "restricted": bool(self.restricted.data), "licence_key": (self.licence_key.data or "").strip() or None,
            "permitted_use": self.permitted_use.data or None, "state": self.state.data or None,
            "district": self.district.data or None, "data_format": self.data_format.data or None,
            "crs": self.crs.data or None, "allowed_extensions": self.allowed_extensions.data or None,
            "download_limit": self.download_limit.data, "download_window_days": self.download_window_days.data,
            "stock": self.stock.data,
        }


class StatusForm(Form):
    # Retiring has its own confirmation step (RetireForm).
    status = SelectField(_l("Status"), choices=[SelectChoice("published", _l("Publish"))])


class RetireForm(Form):
    pass


class VersionFactsForm(Form):
    """What a release is, when it differs from the product's description."""
    data_format = StringField(_l("Format of this version"), validators=[Optional(), Length(max=40)])
    crs = StringField(_l("Coordinate reference system of this version"), validators=[Optional(), Length(max=60)])
    coverage = StringField(_l("Coverage of this version"), validators=[Optional(), Length(max=200)],
                           description=_l("For example: Selangor, Petaling. Left empty: the product's."))


class VersionForm(VersionFactsForm):
    label = StringField(_l("Version"), validators=[DataRequired(), Length(max=40)])
    release_date = DateField(_l("Release date"), validators=[DataRequired(), DateInRange()])
    change_notes_ms = TextAreaField(_l("Change notes (Bahasa Malaysia)"), validators=[Optional(), Length(max=10000)])
    change_notes = TextAreaField(_l("Change notes (English)"), validators=[Optional(), Length(max=10000)])
    published = BooleanField(_l("Published"), default=True)


class VersionEditForm(VersionFactsForm):
    change_notes_ms = TextAreaField(_l("Change notes (Bahasa Malaysia)"), validators=[Optional(), Length(max=10000)])
    change_notes = TextAreaField(_l("Change notes (English)"), validators=[Optional(), Length(max=10000)])
    published = BooleanField(_l("Published"))


class SessionForm(Form):
    starts_at = DateTimeLocalField(_l("Starts (Malaysia time)"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(), DateInRange()])
    ends_at = DateTimeLocalField(_l("Ends (Malaysia time)"), format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(), DateInRange()])
    venue = StringField(_l("Venue"), validators=[DataRequired(), Length(max=200)])
    online = BooleanField(_l("Online"))
    seats_total = IntegerField(_l("Seats"), validators=[DataRequired(), NumberRange(min=1, max=10000)])


class CancelSessionForm(Form):
    pass


class AccessForm(Form):
    email = StringField(_l("Customer email"), validators=[DataRequired(), Length(max=254)])
    source_ref = StringField(_l("Application or decision reference"), validators=[DataRequired(), Length(max=60)])
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional(), DateInRange()])


class RevokeAccessForm(Form):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])
