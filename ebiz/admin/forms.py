"""Staff console forms."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..accounts.models import Role
from ..forms import Form

ROLE_CHOICES = [SelectChoice(Role.CUSTOMER.value, _l("Customer")),
                SelectChoice(Role.COUNTER.value, _l("Counter staff")),
                SelectChoice(Role.SUPPORT.value, _l("Support agent")),
                SelectChoice(Role.ADMIN.value, _l("Administrator"))]
ROLE_LABELS = {c.value: c.label for c in ROLE_CHOICES}


class ActiveForm(Form):
    active = HiddenField(validators=[DataRequired()])


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])
    counter_id = SelectField(_l("Counter (counter staff only)"), choices=[], validate_choice=False)


class LookupForm(Form):
    class Meta:
        csrf = False  # a GET search: changes nothing

    q = StringField(_l("Name, email or identity number"), validators=[Length(max=100)])
