"""IBAN validation (ISO 13616): country code, check digits, the country's length, mod-97 == 1.

A small, dependency-free check. It proves an IBAN is well-formed and has no typo the check digits
catch; it does not prove the account exists (the bank's answer to the payout does).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# IBAN lengths of the SEPA countries and a few others (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22, "AE": 23, "SA": 24, "TR": 26,
}
_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normalize_iban(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def iban_is_valid(value: str) -> bool:
    iban = normalize_iban(value)
    if not _SHAPE.match(iban):
        return False
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)  # A=10 ... Z=35
    return int(digits) % 97 == 1


def validate_iban(value: str) -> None:
    """Django field validator."""
    if value and not iban_is_valid(value):
        raise ValidationError("Enter a valid IBAN (country code, check digits, account; ISO 13616).",
                              code="invalid_iban")
