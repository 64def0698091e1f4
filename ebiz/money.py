"""Money as integer sen. The only place that parses or formats amounts.

`parse_ringgit("12.50") == 1250`; `format_sen(1250) == "RM 12.50"`. Floats
never touch an amount: parsing goes through `Decimal` from the string.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_SEN = 10**13  # RM 100 billion: far above anything this store takes
# Commas only as thousands separators ("1,234.50"): "100,00" is not read as 10,000.
GROUPED = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
# What a person writes for ringgit: ASCII digits, one optional point, digits after it. Not Python's
# or Decimal's number syntax: no "1_000", no "1e3", no "Infinity", no Arabic-Indic or other digits.
PLAIN = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


class MoneyFormatError(ValueError):
    """The text is not an amount in ringgit with at most two decimals."""


def parse_ringgit(text: str | int | Decimal | None) -> int:
    """Parse "12", "12.5", "12.50", "RM 1,234.50" into sen. Refuses negatives and >2 decimals.

    Text must be written as people write ringgit (PLAIN, or GROUPED with thousands commas);
    an int or a Decimal (from code, not from a person) is taken as its value."""
    if text is None:
        raise MoneyFormatError("empty amount")
    if isinstance(text, int) and not isinstance(text, bool):
        return text * 100
    if isinstance(text, Decimal):
        cleaned = str(text)
    else:
        cleaned = str(text).strip().upper().removeprefix("RM").strip()
        if "," in cleaned:
            if not GROUPED.fullmatch(cleaned):
                raise MoneyFormatError(f"not an amount: {text!r}")
            cleaned = cleaned.replace(",", "")
        if not cleaned:
            raise MoneyFormatError("empty amount")
        if not PLAIN.fullmatch(cleaned):
            raise MoneyFormatError(f"not an amount: {text!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise MoneyFormatError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise MoneyFormatError(f"not a positive amount: {text!r}")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise MoneyFormatError(f"more than two decimals: {text!r}")
    if value.adjusted() > 12:  # far above MAX_SEN; and "1e1000000" * 100 would overflow the context
        raise MoneyFormatError(f"amount too large: {text!r}")
    sen = int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))
    if sen > MAX_SEN:
        raise MoneyFormatError(f"amount too large: {text!r}")
    return sen


def sen_to_decimal_str(sen: int) -> str:
    """1250 -> "12.50" (for forms, CSV and gateway messages)."""
    sign = "-" if sen < 0 else ""
    whole, cents = divmod(abs(int(sen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_sen(sen: int | None, currency: str = "RM") -> str:
    """1250 -> "RM 12.50"; 123456 -> "RM 1,234.56"; negatives as "-RM 5.00"."""
    if sen is None:
        return ""
    sign = "-" if sen < 0 else ""
    whole, cents = divmod(abs(int(sen)), 100)
    return f"{sign}{currency} {whole:,}.{cents:02d}"
