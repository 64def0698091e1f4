"""Identity numbers: validation and the normalised form stored.

- MyKad (python-stdnum `my.nric`): 12 digits, dashes optional; a real birth
  date in the first six and a known birthplace code in the next two. Stored
  as 12 digits.
- Passport: letters and digits, 5 to 20 characters, stored upper-case; the
  nationality is an ISO 3166 alpha-2 code known to pycountry, not Malaysia.
- Company registration number: the 12-digit format used since 2019
  (YYYY + entity type 01..06 + 6 digits; the year not in the future), stored
  as 12 digits; or an older format (1 to 7 digits and a check letter, e.g.
  "123456-A", "1234567X"), stored as "1234567-X".
- Email (email-validator, no DNS lookup): stored lower-case.
- Phone (phonenumbers, Google's libphonenumber): a possible and valid number,
  Malaysian when written without a country code ("012-345 6789"), stored in
  E.164 ("+60123456789"); shown in the international format.

Each function returns the normalised value or raises ValidationError with the
field it belongs to.
"""

import re

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.my import nric

from ..clock import utcnow
from ..errors import ValidationError

COMPANY_ENTITY_TYPES = {"01", "02", "03", "04", "05", "06"}
_OLD_COMPANY = re.compile(r"^([0-9]{1,7})-?([A-Z])$")  # ASCII digits only: "١٢٣" is not "123"
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")


def normalise_mykad(value: str | None, field: str = "mykad") -> str:
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(_l("Enter a MyKad number."), field=field)
    if not re.fullmatch(r"[0-9\s-]+", raw) or len(re.sub(r"[^0-9]", "", raw)) != 12:
        raise ValidationError(_l("A MyKad number has 12 digits, for example 900101-14-5678."), field=field)
    try:
        return nric.validate(raw.replace(" ", ""))
    except StdnumError:
        raise ValidationError(
            _l("This is not a valid MyKad number: check the date of birth and the place-of-birth code."),
            field=field) from None


def normalise_passport(value: str | None, field: str = "passport_no") -> str:
    compact = re.sub(r"[\s-]", "", value or "").upper()
    if not _PASSPORT.fullmatch(compact):
        raise ValidationError(_l("A passport number has 5 to 20 letters and digits."), field=field)
    return compact


def normalise_nationality(value: str | None, field: str = "nationality") -> str:
    code = (value or "").strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(_l("Choose your nationality."), field=field)
    if code == "MY":
        raise ValidationError(_l("Malaysian citizens register with their MyKad number."), field=field)
    return code


def normalise_company_reg_no(value: str | None, field: str = "company_reg_no") -> str:
    compact = re.sub(r"\s", "", value or "").upper()
    digits = compact.replace("-", "")
    if digits.isascii() and digits.isdigit() and len(digits) == 12:
        year, entity = int(digits[:4]), digits[4:6]
        if not 1800 <= year <= utcnow().year or entity not in COMPANY_ENTITY_TYPES:
            raise ValidationError(
                _l("This is not a valid registration number: the first four digits are the year of "
                   "registration and the next two the entity type (01 to 06)."), field=field)
        return digits
    m = _OLD_COMPANY.fullmatch(compact)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    raise ValidationError(
        _l("Enter the 12-digit registration number (for example 201901012345) or the old number "
           "(for example 123456-A)."), field=field)


def normalise_email(value: str | None, field: str = "email") -> str:
    try:
        info = validate_email((value or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(_l("Enter a valid email address, for example nama@contoh.my."), field=field) from None
    return info.normalized.lower()


PHONE_REGION = "MY"  # a number written without "+country code" is Malaysian
MAX_PHONE_TEXT = 30


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number in E.164, or None when left empty."""
    raw = (value or "").strip()
    if not raw:
        return None
    if len(raw) > MAX_PHONE_TEXT or not re.fullmatch(r"[0-9+()\s.-]+", raw):  # ASCII digits only
        raise ValidationError(_l("Enter a phone number, for example 012-345 6789 or +60 3-2617 0800."), field=field)
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(_l("This is not a valid phone number. Write a Malaysian number as 012-345 6789, "
                                 "another country's with its code, for example +65 6123 4567."), field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """A stored number as people write it (international format); other text as it is."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, PHONE_REGION),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def countries() -> list[tuple[str, str]]:
    """(alpha-2 code, name) of every country but Malaysia, sorted by name."""
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries if c.alpha_2 != "MY"), key=lambda x: x[1])


def mykad_birth(value: str):
    """(birth date, birthplace) of a valid MyKad number, for display at the counter."""
    place = nric.get_birth_place(value)
    return nric.get_birth_date(value), (place or {}).get("state") or (place or {}).get("country")
