"""Money: integer amounts in a currency's minor unit, next to an ISO 4217 code.

Currencies and exponents come from CLDR through babel (JPY 0, EUR 2, KWD 3). Only currencies
that are legal tender somewhere today are accepted (no DEM, no XAU). CLDR's `digits` are display
rounding: for a few currencies whose minor unit is unused in practice (HUF, IDR, IQD, ...) CLDR
says 0 where ISO 4217, which card networks and banks use, keeps the minor unit; those are
corrected below. No floats anywhere; Decimal is used only to format an amount for people, never
in arithmetic or the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.core import get_global
from babel.numbers import format_currency, get_currency_precision, get_territory_currencies

# Codes that are not money a card payment can move: precious metals, SDRs, test and no-currency.
_NOT_PAYABLE = {"XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}

# ISO 4217 minor units where CLDR's display digits differ (CLDR rounds these to whole units).
_ISO_4217_MINOR_UNITS = {
    "AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2,
    "LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2,
}

MAX_PAYMENT_AMOUNT = 99_999_999


class CurrencyError(ValueError):
    """An unknown currency code, or two currencies mixed in one operation."""


@lru_cache(maxsize=1)
def supported_currencies() -> frozenset[str]:
    """ISO 4217 codes that are legal tender in some territory today (CLDR), less non-money codes."""
    in_use = set()
    for territory in get_global("territory_currencies"):
        in_use.update(get_territory_currencies(territory, tender=True))
    return frozenset(c for c in in_use if len(c) == 3 and c.isalpha() and c not in _NOT_PAYABLE)


def normalize_currency(code: object) -> str:
    """The upper-case ISO 4217 code, or CurrencyError."""
    if not isinstance(code, str):
        raise CurrencyError("Currency must be a three-letter ISO 4217 code.")
    upper = code.strip().upper()
    if upper not in supported_currencies():
        raise CurrencyError(f"Unknown currency '{code}'. Use a three-letter ISO 4217 code such as EUR.")
    return upper


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """How many decimal places the currency's ISO 4217 minor unit has (JPY 0, EUR 2, KWD 3)."""
    code = normalize_currency(currency)
    return _ISO_4217_MINOR_UNITS.get(code, get_currency_precision(code))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self):
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money amounts are integers in the minor unit")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise CurrencyError(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def to_decimal(self) -> Decimal:
        """For display only."""
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Money:
        """The inverse of `to_decimal`, for amounts typed by a person: Decimal("12.50"), EUR -> 1250 EUR.
        Never rounds: ValueError if the value is finer than the currency's minor unit (or not finite)."""
        if not value.is_finite():
            raise ValueError("Not a finite amount")
        minor = value.scaleb(exponent(currency))
        if minor != minor.to_integral_value():
            raise ValueError(f"{normalize_currency(currency)} amounts have at most {exponent(currency)} decimals")
        return cls(int(minor), currency)

    def format(self, locale: str = "en_US") -> str:
        return format_currency(self.to_decimal(), self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"
