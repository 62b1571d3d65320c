from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import MAX_PAYMENT_AMOUNT, CurrencyError, Money, exponent, normalize_currency, supported_currencies


@pytest.mark.parametrize(
    ("code", "digits"),
    [("JPY", 0), ("KRW", 0), ("CLP", 0), ("EUR", 2), ("USD", 2), ("GBP", 2), ("KWD", 3), ("BHD", 3), ("JOD", 3),
     ("OMR", 3), ("TND", 3)],
)
def test_exponents(code, digits):
    assert exponent(code) == digits


@pytest.mark.parametrize(("code", "digits"), [("HUF", 2), ("IDR", 2), ("COP", 2), ("IQD", 3), ("ISK", 0)])
def test_exponents_follow_iso_4217_where_cldr_display_rounding_differs(code, digits):
    """CLDR rounds HUF, IDR, COP, IQD to whole units for display; the ISO 4217 minor unit is what moves."""
    assert exponent(code) == digits


def test_lower_case_is_normalized():
    assert normalize_currency("eur") == "EUR"
    assert normalize_currency(" jpy ") == "JPY"
    assert exponent("kwd") == 3
    assert Money(100, "eur").currency == "EUR"
    assert Money(100, "eur") == Money(100, "EUR")


@pytest.mark.parametrize("code", ["ABC", "EURO", "EU", "", "E1R", "ZZZ", "€", "DEM", "FRF", "ITL"])
def test_unknown_or_retired_codes_are_refused(code):
    with pytest.raises(CurrencyError):
        normalize_currency(code)
    with pytest.raises(CurrencyError):
        exponent(code)
    with pytest.raises(CurrencyError):
        Money(100, code)


@pytest.mark.parametrize("code", ["XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XSU", "XUA"])
def test_non_payable_codes_are_refused(code):
    assert code not in supported_currencies()
    with pytest.raises(CurrencyError):
        normalize_currency(code)


@pytest.mark.parametrize("code", [None, 978, b"EUR", ["EUR"]])
def test_non_string_codes_are_refused(code):
    with pytest.raises(CurrencyError):
        normalize_currency(code)


def test_every_supported_currency_has_an_exponent_between_0_and_4():
    codes = supported_currencies()
    assert {"EUR", "USD", "JPY", "KWD", "BHD", "CHF", "GBP"} <= codes
    assert all(len(c) == 3 and c.isupper() for c in codes)
    assert all(0 <= exponent(c) <= 4 for c in codes)


@pytest.mark.parametrize("amount", [1.0, 10.5, float("nan"), Decimal("1"), Decimal("1.50"), True, False, "100", None])
def test_money_refuses_non_integer_amounts(amount):
    with pytest.raises(TypeError):
        Money(amount, "EUR")


def test_money_refuses_mixing_currencies():
    eur, usd = Money(100, "EUR"), Money(100, "USD")
    for op in (lambda: eur + usd, lambda: eur - usd, lambda: eur < usd, lambda: eur <= usd):
        with pytest.raises(CurrencyError):
            op()


def test_money_refuses_plain_numbers():
    with pytest.raises(TypeError):
        Money(100, "EUR") + 5
    with pytest.raises(TypeError):
        Money(100, "EUR") - 5.0


def test_money_is_immutable():
    m = Money(100, "EUR")
    with pytest.raises(AttributeError):
        m.amount = 5


@pytest.mark.parametrize(
    ("money", "text", "display"),
    [
        (Money(1050, "EUR"), "10.50 EUR", "€10.50"),
        (Money(1050, "JPY"), "1050 JPY", "¥1,050"),
        (Money(1050, "KWD"), "1.050 KWD", "KWD1.050"),
        (Money(-5, "EUR"), "-0.05 EUR", "-€0.05"),
    ],
)
def test_display(money, text, display):
    assert str(money) == text
    assert money.format("en_US") == display


def test_comparisons_and_zero():
    assert Money(1, "EUR") < Money(2, "EUR")
    assert Money(2, "EUR") <= Money(2, "EUR")
    assert Money(3, "EUR") > Money(2, "EUR")
    assert Money.zero("JPY") == Money(0, "JPY")
    assert -Money(5, "EUR") == Money(-5, "EUR")


def test_max_payment_amount_is_an_integer():
    assert isinstance(MAX_PAYMENT_AMOUNT, int)
    assert MAX_PAYMENT_AMOUNT == 99_999_999


# --- properties ----------------------------------------------------------------------------------------

amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(["EUR", "JPY", "KWD", "BHD", "USD", "CLF" if "CLF" in supported_currencies() else "GBP"])


@st.composite
def same_currency_triples(draw):
    currency = draw(currencies)
    return tuple(Money(draw(amounts), currency) for _ in range(3))


@given(same_currency_triples())
def test_addition_is_associative_and_commutative(triple):
    a, b, c = triple
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a


@given(same_currency_triples())
def test_subtraction_is_the_inverse_of_addition(triple):
    a, b, _ = triple
    assert (a + b) - b == a
    assert a - a == Money.zero(a.currency)
    assert a + (-a) == Money.zero(a.currency)
    assert (a - b) + b == a


@given(same_currency_triples())
def test_no_float_ever_appears(triple):
    a, b, c = triple
    for result in (a + b, a - b, (a + b) - c, -a, Money.zero(a.currency)):
        assert type(result.amount) is int
        assert result.currency == a.currency


@given(amounts, currencies)
def test_display_decimal_round_trips_to_the_integer_amount(amount, currency):
    money = Money(amount, currency)
    assert money.to_decimal().scaleb(exponent(currency)) == amount
    assert money.to_decimal().as_tuple().exponent == -exponent(currency) or amount == 0


@given(amounts, currencies)
def test_from_decimal_is_the_inverse_of_to_decimal(amount, currency):
    assert Money.from_decimal(Money(amount, currency).to_decimal(), currency) == Money(amount, currency)


@pytest.mark.parametrize(("text", "currency", "amount"), [("12.50", "EUR", 1250), ("12.5", "eur", 1250),
                                                          ("1000", "JPY", 1000), ("1.234", "KWD", 1234)])
def test_from_decimal(text, currency, amount):
    assert Money.from_decimal(Decimal(text), currency) == Money(amount, currency.upper())


@pytest.mark.parametrize(("text", "currency"),
                         [("12.505", "EUR"), ("10.5", "JPY"), ("NaN", "EUR"), ("Infinity", "EUR")])
def test_from_decimal_never_rounds(text, currency):
    with pytest.raises(ValueError):
        Money.from_decimal(Decimal(text), currency)
