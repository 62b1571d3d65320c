"""The card vault's rules: card number checks, brands, encryption and fingerprints.

PCI DSS: the PAN exists in clear only in memory, inside a `CardNumber` whose repr and str
are masked. It is stored only as AES-256-GCM ciphertext with the key version; the
fingerprint is a keyed HMAC. The CVC is checked for shape and then dropped: never stored,
logged, queued or cached.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.errors import ValidationError

NONCE_BYTES = 12


class Brand:
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    JCB = "jcb"
    UNIONPAY = "unionpay"
    DINERS = "diners"
    MAESTRO = "maestro"
    UNKNOWN = "unknown"


# (brand, IIN prefix ranges as (low, high) over the same number of leading digits, allowed lengths).
# Checked in order: the more specific ranges come first.
_IIN_TABLE: list[tuple[str, list[tuple[str, str]], set[int]]] = [
    (Brand.AMEX, [("34", "34"), ("37", "37")], {15}),
    (Brand.DINERS, [("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")], {14, 15, 16, 17, 18, 19}),
    (Brand.JCB, [("3528", "3589")], {16, 17, 18, 19}),
    (Brand.DISCOVER, [("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")], {16, 17, 18, 19}),
    (Brand.UNIONPAY, [("62", "62"), ("81", "81")], {16, 17, 18, 19}),
    (Brand.MASTERCARD, [("51", "55"), ("2221", "2720")], {16}),
    (Brand.MAESTRO, [("50", "50"), ("56", "58"), ("6304", "6304"), ("6759", "6759"), ("676770", "676774"),
                     ("63", "63"), ("67", "67")], set(range(12, 20))),
    (Brand.VISA, [("4", "4")], {13, 16, 19}),
]


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(partial + digit):
            return digit
    raise AssertionError("unreachable")


def detect_brand(number: str) -> str:
    for brand, ranges, lengths in _IIN_TABLE:
        for low, high in ranges:
            prefix = number[: len(low)]
            if len(prefix) == len(low) and low <= prefix <= high:
                return brand if len(number) in lengths else Brand.UNKNOWN
    return Brand.UNKNOWN


_PAN_LIKE = re.compile(r"(?<!\d)\d(?:[ -]?\d){11,18}(?!\d)")


def looks_like_pan(text: str) -> bool:
    """True when free text holds a card number: 12-19 digits (spaces or dashes between them allowed)
    of a known brand that pass the Luhn check. Used to refuse card numbers where none belong."""
    for match in _PAN_LIKE.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if luhn_valid(digits) and detect_brand(digits) != Brand.UNKNOWN:
            return True
    return False


class CardNumber:
    """A PAN in memory. Its repr/str never show more than BIN and last 4."""

    __slots__ = ("_digits",)

    def __init__(self, digits: str):
        self._digits = digits

    def reveal(self) -> str:
        return self._digits

    @property
    def bin(self) -> str:
        return self._digits[:6]

    @property
    def last4(self) -> str:
        return self._digits[-4:]

    def __repr__(self) -> str:
        return f"CardNumber({self.bin}...{self.last4})"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a queue or cache
        raise TypeError("CardNumber cannot be serialized")


@dataclass(frozen=True, repr=False)
class CheckedCard:
    number: CardNumber
    brand: str
    exp_month: int
    exp_year: int
    name: str

    def __repr__(self) -> str:
        return f"CheckedCard({self.brand} {self.number!r} {self.exp_month:02d}/{self.exp_year})"


def _param(prefix: str, name: str) -> str:
    """`card[number]` inside a payment's `card` object; plain `number` when the fields are top level."""
    return f"{prefix}[{name}]" if prefix else name


def normalize_number(raw, *, param: str = "card[number]") -> str:
    if not isinstance(raw, str):
        raise ValidationError("The card number must be a string of digits.", param=param, code="invalid_number")
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not digits.isascii():
        raise ValidationError("The card number is not a valid card number.", param=param, code="invalid_number")
    return digits


def check_card(*, number, exp_month, exp_year, cvc, name: str = "", today: date | None = None,
               param_prefix: str = "card") -> CheckedCard:
    """Every vault rule at once. Raises a 400 with a stable code on the first broken rule.

    `param_prefix` names where the fields sit in the request: "card" gives `card[number]`,
    "" gives `number` (POST /v1/cards takes them at the top level).
    """
    digits = normalize_number(number, param=_param(param_prefix, "number"))
    if not 12 <= len(digits) <= 19:
        raise ValidationError("The card number has the wrong length.", param=_param(param_prefix, "number"),
                              code="invalid_number")
    if not luhn_valid(digits):
        raise ValidationError("The card number is incorrect.", param=_param(param_prefix, "number"),
                              code="incorrect_number")
    brand = detect_brand(digits)
    if brand == Brand.UNKNOWN:
        raise ValidationError("This card brand is not supported, or the number has the wrong length for its brand.",
                              param=_param(param_prefix, "number"), code="invalid_number")
    if not isinstance(exp_month, int) or isinstance(exp_month, bool) or not 1 <= exp_month <= 12:
        raise ValidationError("The expiry month must be 1 to 12.", param=_param(param_prefix, "exp_month"),
                              code="invalid_expiry_month")
    if not isinstance(exp_year, int) or isinstance(exp_year, bool):
        raise ValidationError("The expiry year must be a number.", param=_param(param_prefix, "exp_year"),
                              code="invalid_expiry_year")
    if exp_year < 100:
        exp_year += 2000
    today = today or date.today()
    if (exp_year, exp_month) < (today.year, today.month):
        raise ValidationError("The card has expired.", param=_param(param_prefix, "exp_year"),
                              code="invalid_expiry_year")
    if exp_year > today.year + 50:
        raise ValidationError("The expiry year is too far in the future.", param=_param(param_prefix, "exp_year"),
                              code="invalid_expiry_year")
    if cvc is not None:
        want = 4 if brand == Brand.AMEX else 3
        if not isinstance(cvc, str) or not cvc.isdigit() or not cvc.isascii() or len(cvc) != want:
            raise ValidationError(f"The CVC must be {want} digits for this card.", param=_param(param_prefix, "cvc"),
                                  code="invalid_cvc")
    return CheckedCard(number=CardNumber(digits), brand=brand, exp_month=exp_month, exp_year=exp_year,
                       name=(name or "").strip()[:100])


# --- Encryption and fingerprints ----------------------------------------------------------------
#
# The keyring holds every configured data-key version (CARD_DATA_KEYS). One is current
# (CARD_DATA_KEY_VERSION): it encrypts every new record and every record the rotation job
# re-encrypts. The other versions only decrypt, until they are retired (CARD_DATA_KEYS_RETIRED):
# a retired version decrypts nothing, even while its key is still configured, and a record left
# on it is a configuration error (system check `cards.E001`, `rotate_card_keys --check-retire`).


class CardKeyUnavailable(RuntimeError):
    """A record's key version cannot decrypt in this process: it is not configured, or it is retired."""


class Keyring:
    """The card data keys of this process. Its repr names versions only, never key material."""

    __slots__ = ("_aead", "current", "retired", "versions")

    def __init__(self, *, keys: Mapping[int, bytes], current: int, retired: Iterable[int] = ()):
        retired = frozenset(int(v) for v in retired)
        for version, key in keys.items():
            if not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise ImproperlyConfigured(f"CARD_DATA_KEYS: version {version!r} is not a non-negative integer")
            if not isinstance(key, bytes) or len(key) != 32:
                raise ImproperlyConfigured(f"CARD_DATA_KEYS version {version}: key must be 32 bytes")
        if current not in keys:
            raise ImproperlyConfigured(f"CARD_DATA_KEY_VERSION {current} names a key that CARD_DATA_KEYS does not hold")
        if current in retired:
            raise ImproperlyConfigured(f"CARD_DATA_KEY_VERSION {current} is listed in CARD_DATA_KEYS_RETIRED: "
                                       "the current version cannot be retired")
        self.current = current
        self.retired = retired
        self.versions = frozenset(keys)
        self._aead = {version: AESGCM(key) for version, key in keys.items() if version not in retired}

    @classmethod
    def from_settings(cls) -> Keyring:
        return cls(keys=settings.CARD_DATA_KEYS, current=settings.CARD_DATA_KEY_VERSION,
                   retired=getattr(settings, "CARD_DATA_KEYS_RETIRED", ()))

    @property
    def decryptable(self) -> frozenset[int]:
        """Versions that decrypt here: configured and not retired (the current one included)."""
        return frozenset(self._aead)

    @property
    def old_versions(self) -> frozenset[int]:
        """Versions that still decrypt but no longer encrypt: what the rotation job moves records off."""
        return self.decryptable - {self.current}

    def aead(self, version: int) -> AESGCM:
        try:
            return self._aead[version]
        except KeyError:
            if version in self.retired:
                raise CardKeyUnavailable(
                    f"Card data key version {version} is retired (CARD_DATA_KEYS_RETIRED) and decrypts nothing; "
                    f"records still on it must be re-encrypted first: un-retire it and run rotate_card_keys"
                ) from None
            raise CardKeyUnavailable(f"Card data key version {version} is not configured (CARD_DATA_KEYS)") from None

    def __repr__(self) -> str:
        return (f"Keyring(current={self.current}, versions={sorted(self.versions)}, "
                f"retired={sorted(self.retired)})")


_keyring: Keyring | None = None
_KEYRING_SETTINGS = {"CARD_DATA_KEYS", "CARD_DATA_KEY_VERSION", "CARD_DATA_KEYS_RETIRED"}


def keyring() -> Keyring:
    """This process's keyring, built once from the settings (rebuilt when a test overrides them)."""
    global _keyring
    ring = _keyring
    if ring is None:
        ring = _keyring = Keyring.from_settings()
    return ring


@receiver(setting_changed)
def _keyring_settings_changed(*, setting, **kwargs):
    global _keyring
    if setting in _KEYRING_SETTINGS:
        _keyring = None


def encrypt_pan(number: CardNumber, *, record_id: str) -> tuple[bytes, int]:
    """(nonce || ciphertext, key version) under the current key. The record id is bound as associated data."""
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ring.aead(ring.current).encrypt(nonce, number.reveal().encode(), record_id.encode())
    return nonce + ciphertext, ring.current


def decrypt_pan(blob: bytes, *, key_version: int, record_id: str) -> CardNumber:
    """The PAN of a record, with the key version stored beside it. Raises CardKeyUnavailable for a
    version that is not configured or retired, cryptography's InvalidTag for a wrong key, a tampered
    blob or a blob moved to another record."""
    aead = keyring().aead(key_version)
    blob = bytes(blob)
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    return CardNumber(aead.decrypt(nonce, ciphertext, record_id.encode()).decode())


def fingerprint(number: CardNumber) -> str:
    """Keyed HMAC-SHA256 of the PAN: the same card gives the same fingerprint, nobody can invert it."""
    digest = hmac.new(settings.CARD_FINGERPRINT_KEY, number.reveal().encode(), hashlib.sha256).hexdigest()
    return digest[:32]
