"""The card vault's rules: Luhn, lengths, brands, expiry, CVC, encryption, key versions, fingerprints."""

import copy
import hashlib
import json
import logging
import pickle
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.test import override_settings

from cards import services
from cards.models import Card
from cards.vault import (
    NONCE_BYTES,
    Brand,
    CardNumber,
    check_card,
    decrypt_pan,
    detect_brand,
    encrypt_pan,
    fingerprint,
    luhn_check_digit,
    luhn_valid,
)
from core.errors import ApplicationError

from .factories import AMEX_OK, DISCOVER_OK, MASTERCARD_OK, VISA_OK, make_card
from .pci import find_pans

TODAY = date(2030, 6, 15)


def number(prefix: str, length: int) -> str:
    """A Luhn-valid number of `length` digits starting with `prefix`."""
    body = prefix + "0" * (length - len(prefix) - 1)
    return body + luhn_check_digit(body)


def check(num=VISA_OK, exp_month=12, exp_year=2034, cvc="123", **kwargs):
    kwargs.setdefault("today", TODAY)
    return check_card(number=num, exp_month=exp_month, exp_year=exp_year, cvc=cvc, **kwargs)


def refused(code, param=None, **kwargs):
    with pytest.raises(ApplicationError) as excinfo:
        check(**kwargs)
    assert excinfo.value.code == code
    assert excinfo.value.status == 400
    assert excinfo.value.type == "invalid_request_error"
    if param is not None:
        assert excinfo.value.param == param
    return excinfo.value


# --- Luhn and length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pan",
    [VISA_OK, MASTERCARD_OK, AMEX_OK, DISCOVER_OK, "4000056655665556", "3566002020360505", "6200000000000005",
     "36227206271667", "4222222222222", "79927398713"],
)
def test_luhn_accepts_valid_numbers(pan):
    assert luhn_valid(pan)


@pytest.mark.parametrize("pan", ["4242424242424241", "4242424242424243", "79927398710", "378282246310006",
                                 "5555555555554445", "1"])
def test_luhn_refuses_invalid_numbers(pan):
    assert not luhn_valid(pan)


def test_luhn_detects_every_single_digit_change():
    for i in range(len(VISA_OK)):
        for d in "0123456789":
            if d != VISA_OK[i]:
                assert not luhn_valid(VISA_OK[:i] + d + VISA_OK[i + 1 :])


@pytest.mark.parametrize("partial,digit", [("424242424242424", "2"), ("7992739871", "3"), ("37828224631000", "5"),
                                           ("401288888888188", "1")])
def test_luhn_check_digit(partial, digit):
    assert luhn_check_digit(partial) == digit
    assert luhn_valid(partial + digit)


def test_check_digit_is_the_only_valid_one():
    partial = "453201511283036"
    valid = [d for d in "0123456789" if luhn_valid(partial + d)]
    assert valid == [luhn_check_digit(partial)]


def test_luhn_invalid_number_is_refused_with_incorrect_number():
    refused("incorrect_number", "card[number]", num="4242424242424241")


@pytest.mark.parametrize("length", [8, 11])
def test_too_short_numbers_are_refused(length):
    refused("invalid_number", "card[number]", num=number("4", length))


@pytest.mark.parametrize("length", [20, 23])
def test_too_long_numbers_are_refused(length):
    refused("invalid_number", "card[number]", num=number("4", length))


@pytest.mark.parametrize("length", [14, 15, 17, 18])
def test_visa_with_a_length_visa_does_not_issue_is_refused(length):
    refused("invalid_number", "card[number]", num=number("4", length))


def test_empty_number_is_refused():
    refused("invalid_number", "card[number]", num="")


def test_luhn_valid_number_of_no_known_brand_is_refused():
    refused("invalid_number", "card[number]", num=number("1", 16))


# --- Brands from IIN ranges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix,length,brand",
    [
        # Visa: 4, lengths 13, 16 and 19
        ("4", 13, Brand.VISA), ("4", 16, Brand.VISA), ("4", 19, Brand.VISA), ("49", 16, Brand.VISA),
        # Mastercard: 51-55 and the 2-series 2221-2720, 16 digits
        ("51", 16, Brand.MASTERCARD), ("53", 16, Brand.MASTERCARD), ("55", 16, Brand.MASTERCARD),
        ("2221", 16, Brand.MASTERCARD), ("2500", 16, Brand.MASTERCARD), ("2720", 16, Brand.MASTERCARD),
        ("272099", 16, Brand.MASTERCARD), ("222100", 16, Brand.MASTERCARD),
        # American Express: 34 and 37, 15 digits
        ("34", 15, Brand.AMEX), ("37", 15, Brand.AMEX),
        # Discover: 6011, 644-649, 65, 622126-622925
        ("6011", 16, Brand.DISCOVER), ("644", 16, Brand.DISCOVER), ("649", 16, Brand.DISCOVER),
        ("65", 16, Brand.DISCOVER), ("65", 19, Brand.DISCOVER), ("622126", 16, Brand.DISCOVER),
        ("622500", 16, Brand.DISCOVER), ("622925", 16, Brand.DISCOVER),
        # JCB: 3528-3589
        ("3528", 16, Brand.JCB), ("3550", 16, Brand.JCB), ("3589", 16, Brand.JCB), ("3589", 19, Brand.JCB),
        # UnionPay: 62 (outside Discover's co-branded 622126-622925)
        ("62", 16, Brand.UNIONPAY), ("622125", 16, Brand.UNIONPAY), ("622926", 16, Brand.UNIONPAY),
        ("6200", 19, Brand.UNIONPAY),
        # Diners Club: 300-305, 36, 38-39
        ("300", 14, Brand.DINERS), ("305", 14, Brand.DINERS), ("36", 14, Brand.DINERS), ("38", 14, Brand.DINERS),
        ("39", 16, Brand.DINERS), ("3095", 14, Brand.DINERS),
        # Maestro
        ("50", 16, Brand.MAESTRO), ("56", 16, Brand.MAESTRO), ("58", 19, Brand.MAESTRO),
        ("6304", 16, Brand.MAESTRO), ("6759", 16, Brand.MAESTRO), ("676770", 19, Brand.MAESTRO),
        ("63", 12, Brand.MAESTRO), ("67", 13, Brand.MAESTRO),
    ],
)
def test_brand_from_iin_ranges(prefix, length, brand):
    pan = number(prefix, length)
    assert detect_brand(pan) == brand
    checked = check(num=pan, cvc=None)
    assert checked.brand == brand


@pytest.mark.parametrize(
    "prefix,length",
    [
        ("2220", 16), ("2721", 16), ("2200", 16), ("2799", 16),  # just outside the Mastercard 2-series
        ("50", 11),  # Maestro too short
        ("56", 20),
        ("306", 14),  # between Diners 300-305 and 3095
        ("3527", 16), ("3590", 16),  # just outside JCB
        ("35", 16),
        ("33", 15), ("35", 15),
        ("60", 16), ("6010", 16), ("6012", 16), ("643", 16),  # not Discover, not anything else
        ("1", 16), ("9", 16), ("7", 16),
    ],
)
def test_numbers_outside_every_range_have_no_brand(prefix, length):
    assert detect_brand(number(prefix, length)) == Brand.UNKNOWN


@pytest.mark.parametrize(
    "prefix,length",
    [("34", 16), ("37", 14), ("51", 15), ("55", 19), ("2221", 15), ("6011", 15), ("3528", 15), ("62", 15),
     ("4", 12)],
)
def test_known_range_with_the_wrong_length_is_refused(prefix, length):
    pan = number(prefix, length)
    assert detect_brand(pan) == Brand.UNKNOWN
    refused("invalid_number", "card[number]", num=pan, cvc=None)


def test_mastercard_two_series_boundaries():
    assert detect_brand(number("2220", 16)) == Brand.UNKNOWN
    assert detect_brand(number("2221", 16)) == Brand.MASTERCARD
    assert detect_brand(number("2720", 16)) == Brand.MASTERCARD
    assert detect_brand(number("2721", 16)) == Brand.UNKNOWN
    assert detect_brand(number("50", 16)) == Brand.MAESTRO  # 50 is Maestro, not Mastercard 51-55
    assert detect_brand(number("56", 16)) == Brand.MAESTRO


def test_well_known_test_cards():
    assert detect_brand(VISA_OK) == Brand.VISA
    assert detect_brand(MASTERCARD_OK) == Brand.MASTERCARD
    assert detect_brand(AMEX_OK) == Brand.AMEX
    assert detect_brand(DISCOVER_OK) == Brand.DISCOVER
    assert detect_brand("3566002020360505") == Brand.JCB
    assert detect_brand("36227206271667") == Brand.DINERS
    assert detect_brand("2223003122003222") == Brand.MASTERCARD
    assert detect_brand("6200000000000005") == Brand.UNIONPAY


# --- Expiry -------------------------------------------------------------------------------------


def test_card_expiring_this_month_is_accepted():
    checked = check(exp_month=TODAY.month, exp_year=TODAY.year)
    assert (checked.exp_month, checked.exp_year) == (6, 2030)


def test_card_expired_last_month_is_refused():
    refused("invalid_expiry_year", "card[exp_year]", exp_month=5, exp_year=2030)


def test_card_expired_last_year_is_refused():
    refused("invalid_expiry_year", "card[exp_year]", exp_month=12, exp_year=2029)


def test_expiry_across_the_year_boundary():
    assert check(exp_month=1, exp_year=2030, today=date(2030, 1, 31)).exp_year == 2030
    refused("invalid_expiry_year", "card[exp_year]", exp_month=12, exp_year=2029, today=date(2030, 1, 1))


@pytest.mark.parametrize("month", [0, 13, -1, 99])
def test_month_out_of_range_is_refused(month):
    refused("invalid_expiry_month", "card[exp_month]", exp_month=month)


@pytest.mark.parametrize("month", ["12", 12.0, True, None])
def test_month_of_the_wrong_type_is_refused(month):
    refused("invalid_expiry_month", "card[exp_month]", exp_month=month)


@pytest.mark.parametrize("year", ["2034", 2034.0, None, True])
def test_year_of_the_wrong_type_is_refused(year):
    refused("invalid_expiry_year", "card[exp_year]", exp_year=year)


def test_two_digit_year_means_this_century():
    assert check(exp_month=12, exp_year=34).exp_year == 2034
    assert check(exp_month=6, exp_year=30).exp_year == 2030
    refused("invalid_expiry_year", "card[exp_year]", exp_month=5, exp_year=30)
    refused("invalid_expiry_year", "card[exp_year]", exp_month=12, exp_year=29)


def test_year_too_far_ahead_is_refused():
    assert check(exp_year=TODAY.year + 50).exp_year == 2080
    refused("invalid_expiry_year", "card[exp_year]", exp_year=TODAY.year + 51)


def test_expiry_uses_today_by_default():
    today = date.today()
    assert check_card(number=VISA_OK, exp_month=today.month, exp_year=today.year, cvc="123").exp_year == today.year
    last_month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    with pytest.raises(ApplicationError) as excinfo:
        check_card(number=VISA_OK, exp_month=last_month[1], exp_year=last_month[0], cvc="123")
    assert excinfo.value.code == "invalid_expiry_year"


# --- CVC ----------------------------------------------------------------------------------------


def test_three_digit_cvc_for_visa_mastercard_discover():
    for pan in (VISA_OK, MASTERCARD_OK, DISCOVER_OK):
        assert check(num=pan, cvc="123").number.reveal() == pan
        assert check(num=pan, cvc="000").number.reveal() == pan


def test_four_digit_cvc_for_amex():
    assert check(num=AMEX_OK, cvc="1234").brand == Brand.AMEX


def test_three_digit_cvc_for_amex_is_refused():
    refused("invalid_cvc", "card[cvc]", num=AMEX_OK, cvc="123")


def test_four_digit_cvc_for_visa_is_refused():
    refused("invalid_cvc", "card[cvc]", num=VISA_OK, cvc="1234")


@pytest.mark.parametrize("cvc", ["12", "12a", "abc", "1 3", "", "\uff11\uff12\uff13", "-12", 123, "12345"])
def test_malformed_cvc_is_refused(cvc):
    refused("invalid_cvc", "card[cvc]", cvc=cvc)


def test_cvc_is_optional():
    assert check(cvc=None).brand == Brand.VISA


def test_the_cvc_is_not_kept():
    checked = check(cvc="987")
    assert "987" not in repr(checked)
    assert not any("987" in str(getattr(checked, f)) for f in ("brand", "exp_month", "exp_year", "name"))
    assert not hasattr(checked, "cvc")


# --- Number formats -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["4242 4242 4242 4242", "4242-4242-4242-4242", " 4242424242424242 ",
                                 "4242 4242-4242 4242"])
def test_spaces_and_dashes_in_the_number_are_accepted(raw):
    assert check(num=raw).number.reveal() == VISA_OK


@pytest.mark.parametrize("raw", ["4242424242424a42", "4242.4242.4242.4242", "4242/4242424242424", "+4242424242424242",
                                 "\uff14\uff12" * 8, "\u0664\u0662" * 8, "42424242424242\n42"])
def test_non_digits_in_the_number_are_refused(raw):
    refused("invalid_number", "card[number]", num=raw)


@pytest.mark.parametrize("raw", [4242424242424242, None, ["4242424242424242"]])
def test_number_must_be_a_string(raw):
    refused("invalid_number", "card[number]", num=raw)


def test_param_names_follow_where_the_fields_are():
    with pytest.raises(ApplicationError) as excinfo:
        check(num="4242424242424241", param_prefix="")
    assert excinfo.value.param == "number"
    with pytest.raises(ApplicationError) as excinfo:
        check(exp_month=13, param_prefix="")
    assert excinfo.value.param == "exp_month"
    with pytest.raises(ApplicationError) as excinfo:
        check(cvc="1", param_prefix="")
    assert excinfo.value.param == "cvc"


def test_name_is_trimmed_and_bounded():
    assert check(name="  Jane Doe  ").name == "Jane Doe"
    assert len(check(name="x" * 500).name) == 100


# --- Encryption ---------------------------------------------------------------------------------


def test_encryption_round_trip():
    blob, version = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    assert version == settings.CARD_DATA_KEY_VERSION
    assert decrypt_pan(blob, key_version=version, record_id="card_1").reveal() == VISA_OK


def test_ciphertext_does_not_contain_the_pan():
    blob, _ = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    assert VISA_OK.encode() not in blob
    assert VISA_OK[:8].encode() not in blob
    assert len(blob) == NONCE_BYTES + len(VISA_OK) + 16  # nonce + ciphertext + GCM tag


def test_every_encryption_uses_a_fresh_nonce():
    blobs = [encrypt_pan(CardNumber(VISA_OK), record_id="card_1")[0] for _ in range(20)]
    nonces = {b[:NONCE_BYTES] for b in blobs}
    assert len(nonces) == 20
    assert len(set(blobs)) == 20


def test_tampered_ciphertext_fails_to_decrypt():
    blob, version = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    for position in (0, NONCE_BYTES, len(blob) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidTag):
            decrypt_pan(bytes(tampered), key_version=version, record_id="card_1")


def test_ciphertext_is_bound_to_its_record_id():
    blob, version = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    with pytest.raises(InvalidTag):
        decrypt_pan(blob, key_version=version, record_id="card_2")


@pytest.mark.django_db
def test_ciphertext_copied_to_another_card_does_not_decrypt(merchant):
    a = make_card(merchant, number=VISA_OK)
    b = make_card(merchant, number=MASTERCARD_OK)
    Card.objects.filter(pk=b.pk).update(pan_ciphertext=a.pan_ciphertext)
    b.refresh_from_db()
    with pytest.raises(InvalidTag):
        services.card_number(b)
    assert services.card_number(a).reveal() == VISA_OK


def test_wrong_key_fails_to_decrypt():
    blob, _ = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    with override_settings(CARD_DATA_KEYS={1: b"k" * 32}), pytest.raises(InvalidTag):
        decrypt_pan(blob, key_version=1, record_id="card_1")


def test_unknown_key_version_is_an_error():
    blob, _ = encrypt_pan(CardNumber(VISA_OK), record_id="card_1")
    with pytest.raises(RuntimeError, match="version 99"):
        decrypt_pan(blob, key_version=99, record_id="card_1")


@pytest.mark.django_db
def test_vaulted_card_stores_only_ciphertext(merchant):
    card = make_card(merchant, number=VISA_OK, cvc="321")
    row = Card.objects.get(pk=card.pk)
    assert (row.bin, row.last4, row.brand) == ("424242", "4242", Brand.VISA)
    assert VISA_OK.encode() not in bytes(row.pan_ciphertext)
    assert row.key_version == settings.CARD_DATA_KEY_VERSION
    assert services.card_number(row).reveal() == VISA_OK
    field_values = [str(getattr(row, f.attname)) for f in Card._meta.concrete_fields if f.name != "pan_ciphertext"]
    assert not any(find_pans(v) for v in field_values)
    assert "321" not in field_values


KEY_1 = b"k1" * 16
KEY_2 = b"k2" * 16


@pytest.mark.django_db
def test_key_rotation_new_cards_use_the_new_version_and_old_ones_still_decrypt(merchant):
    with override_settings(CARD_DATA_KEYS={1: KEY_1}, CARD_DATA_KEY_VERSION=1):
        old = make_card(merchant, number=VISA_OK)
    assert old.key_version == 1
    with override_settings(CARD_DATA_KEYS={1: KEY_1, 2: KEY_2}, CARD_DATA_KEY_VERSION=2):
        new = make_card(merchant, number=MASTERCARD_OK)
        assert new.key_version == 2
        old.refresh_from_db()
        new.refresh_from_db()
        assert services.card_number(old).reveal() == VISA_OK
        assert services.card_number(new).reveal() == MASTERCARD_OK
        # The two versions really are different keys.
        with pytest.raises(InvalidTag):
            decrypt_pan(new.pan_ciphertext, key_version=1, record_id=new.id)
    with override_settings(CARD_DATA_KEYS={2: KEY_2}, CARD_DATA_KEY_VERSION=2), pytest.raises(RuntimeError):
        services.card_number(old)  # once version 1 is retired, its cards must have been re-encrypted


# --- Fingerprints -------------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_pan():
    assert fingerprint(CardNumber(VISA_OK)) == fingerprint(CardNumber(VISA_OK))
    assert fingerprint(CardNumber(VISA_OK)) != fingerprint(CardNumber(MASTERCARD_OK))


def test_fingerprint_is_keyed():
    with override_settings(CARD_FINGERPRINT_KEY=b"a" * 32):
        first = fingerprint(CardNumber(VISA_OK))
    with override_settings(CARD_FINGERPRINT_KEY=b"b" * 32):
        second = fingerprint(CardNumber(VISA_OK))
    assert first != second


def test_fingerprint_is_not_a_plain_hash():
    fp = fingerprint(CardNumber(VISA_OK))
    for algorithm in ("sha256", "sha1", "md5", "sha512"):
        plain = hashlib.new(algorithm, VISA_OK.encode()).hexdigest()
        assert fp not in plain
    assert VISA_OK not in fp
    assert len(fp) == 32 and int(fp, 16) >= 0


@pytest.mark.django_db
def test_same_card_tokenized_twice_has_the_same_fingerprint(merchant, other_merchant):
    a = make_card(merchant, number=VISA_OK, exp_year=2033)
    b = make_card(other_merchant, number="4242 4242 4242 4242", exp_year=2035)
    c = make_card(merchant, number=MASTERCARD_OK)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.pan_ciphertext != b.pan_ciphertext


# --- CardNumber never leaks ---------------------------------------------------------------------


def test_card_number_repr_and_str_are_masked():
    pan = CardNumber(VISA_OK)
    logged = logging.LogRecord("x", logging.INFO, __file__, 1, "card %s %r", (pan, pan), None).getMessage()
    for text in (repr(pan), str(pan), f"{pan}", f"{pan!r}", format(pan), logged, str([pan]), str({"n": pan})):
        assert VISA_OK not in text
        assert find_pans(text) == []
        assert "4242" in text


def test_checked_card_repr_is_masked():
    checked = check(num=AMEX_OK, cvc="1234")
    assert AMEX_OK not in repr(checked)
    assert AMEX_OK not in str(checked)
    assert find_pans(repr(checked)) == []


def test_card_number_cannot_be_pickled_or_serialized():
    pan = CardNumber(VISA_OK)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(pan, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps(check(num=VISA_OK))
    with pytest.raises(TypeError):
        copy.deepcopy(pan)
    with pytest.raises(TypeError):
        json.dumps({"number": pan})


def test_card_number_has_no_instance_dict():
    pan = CardNumber(VISA_OK)
    assert not hasattr(pan, "__dict__")
    assert pan.bin == "424242" and pan.last4 == "4242"
