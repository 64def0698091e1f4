"""Identity numbers: what is accepted, how it is stored, what is refused (no database needed)."""

import pytest

from ebiz.accounts import identity
from ebiz.errors import ValidationError


@pytest.mark.parametrize("raw", ["900101-14-5678", "900101145678", " 900101 14 5678 "])
def test_mykad_normalised_to_digits(raw):
    assert identity.normalise_mykad(raw) == "900101145678"


@pytest.mark.parametrize("raw", ["", "90010114567", "901301145678", "900231145678", "900101005678",
                                 "90010114567X", "9001011456789"])
def test_mykad_refused(raw):
    with pytest.raises(ValidationError) as exc:
        identity.normalise_mykad(raw, field="rep_mykad")
    assert exc.value.field == "rep_mykad"


def test_mykad_birth_details():
    born, place = identity.mykad_birth("900101145678")
    assert born.isoformat() == "1990-01-01" and "Kuala Lumpur" in place


@pytest.mark.parametrize("raw,stored", [("201901012345", "201901012345"), ("2019-01-012345", "201901012345"),
                                        ("195601000123", "195601000123"), ("123456-A", "123456-A"),
                                        ("1234567-x", "1234567-X"), ("1234567X", "1234567-X"), ("12-a", "12-A")])
def test_company_numbers(raw, stored):
    assert identity.normalise_company_reg_no(raw) == stored


@pytest.mark.parametrize("raw", ["", "201907012345", "201900012345", "209901012345", "179901012345",
                                 "12345678-A", "123456-", "ABCDEF", "20190101234"])
def test_company_numbers_refused(raw):
    with pytest.raises(ValidationError):
        identity.normalise_company_reg_no(raw)


def test_passport_and_nationality():
    assert identity.normalise_passport(" k1234-5678 ") == "K12345678"
    assert identity.normalise_nationality("gb") == "GB"
    for bad in ("", "XX", "GBR", "MY"):
        with pytest.raises(ValidationError):
            identity.normalise_nationality(bad)
    with pytest.raises(ValidationError):
        identity.normalise_passport("A1")


def test_email_lowercased_and_validated_without_network():
    assert identity.normalise_email(" Siti@Contoh.MY ") == "siti@contoh.my"
    for bad in ("", "siti", "siti@", "a b@contoh.my"):
        with pytest.raises(ValidationError):
            identity.normalise_email(bad)
