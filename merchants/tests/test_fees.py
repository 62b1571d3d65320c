"""The fee rounding rule and the IBAN check."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from merchants.fees import compute_fee
from merchants.iban import iban_is_valid, validate_iban


@given(gross=st.integers(0, 10**12), bps=st.integers(0, 10_000), fixed=st.integers(0, 10**6),
       exponent=st.sampled_from([0, 2, 3]))
def test_fee_plus_net_is_gross_and_fee_never_exceeds_gross(gross, bps, fixed, exponent):
    fixed_scaled = fixed // (10 ** (3 - exponent))  # the fixed part in the currency's own minor unit
    fee = compute_fee(gross=gross, percent_bps=bps, fixed_amount=fixed_scaled)
    net = gross - fee
    assert fee + net == gross
    assert 0 <= fee <= gross
    exact_percentage_times_10000 = gross * bps
    percentage = fee - fixed_scaled if fee < gross else None
    if percentage is not None:  # round half up: |percentage - exact| <= 0.5, ties up
        assert abs(percentage * 10_000 - exact_percentage_times_10000) <= 5_000
        assert percentage * 10_000 - exact_percentage_times_10000 != -5_000


@pytest.mark.parametrize(("gross", "bps", "fixed", "fee"), [
    (10_000, 250, 30, 280), (1, 140, 0, 0), (50, 100, 0, 1), (49, 100, 0, 0), (150, 100, 0, 2),
    (10, 140, 25, 10),  # capped at the gross
])
def test_fee_examples(gross, bps, fixed, fee):
    assert compute_fee(gross=gross, percent_bps=bps, fixed_amount=fixed) == fee


@pytest.mark.parametrize("iban", ["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32",
                                  "fr1420041010050500013m02606"])
def test_valid_ibans(iban):
    assert iban_is_valid(iban)
    validate_iban(iban)


@pytest.mark.parametrize("iban", ["DE89370400440532013001", "DE8937040044053201300", "XX", "GB82WEST12345698765433"])
def test_invalid_ibans(iban):
    assert not iban_is_valid(iban)
    with pytest.raises(ValidationError):
        validate_iban(iban)
