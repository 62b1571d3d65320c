"""PCI DSS: no PAN or CVC in clear in the database (any column of any table) or in the logs.

The scenario drives the real API (OAuth token, tokenization, payments with raw cards and with
card tokens, successes and every decline, capture, cancel, refund, validation errors, idempotent
replays) with every logger at DEBUG and SQL logging forced on, then scans everything.
"""

import json
import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cards.models import Card
from merchants.tests.factories import make_client
from payments.processors import TestSimulator

from .factories import AMEX_OK, DISCOVER_OK, MASTERCARD_OK, VISA_OK
from .pci import contains_token, find_pans, log_record_texts, pans_in_log_records, scan_database

VISA_CVC = "918"
AMEX_CVC = "6483"
CVCS = (VISA_CVC, AMEX_CVC)
DECLINING = list(TestSimulator.DECLINING_CARDS)
INVALID_NUMBERS = ["4242424242424241", "5555555555554445"]  # not Luhn-valid: looked for literally
ALL_PANS = [VISA_OK, MASTERCARD_OK, AMEX_OK, DISCOVER_OK, *DECLINING]


# --- The scanner itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        (VISA_OK, [VISA_OK]),
        ("4242 4242 4242 4242", [VISA_OK]),
        ("4242-4242-4242-4242", [VISA_OK]),
        ('{"card": {"number": "378282246310005"}}', [AMEX_OK]),
        ("pan=6011111111111117;", [DISCOVER_OK]),
        ("CardNumber(4000000000000002)", ["4000000000000002"]),
        ("4222222222222", ["4222222222222"]),  # 13 digits
        ("6200000000000000000", ["6200000000000000000"]),  # 19 digits
        (b"\x00\x014242424242424242\xff", [VISA_OK]),
        ("x 999999" + VISA_OK + " y", None),  # inside a run of more than 19 digits: still found (below)
    ],
)
def test_scanner_finds_card_numbers(text, expected):
    found = find_pans(text)
    if expected is None:
        assert VISA_OK in found
    else:
        assert found == expected


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # Luhn-invalid
        "424242424242",  # 12 digits
        "pay_01JD3X4Q8Z5N7W2M0C9K6T1R3B",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "2025-06-01 12:34:56.123456+00:00",
        "424242******4242",
        "bin 424242 last4 4242",
        "1000 EUR",
        "(0.00015402799999719718, 'INSERT ...')",  # a float's decimals
        "12345678901234.5",
        "",
        None,
    ],
)
def test_scanner_ignores_what_is_not_a_card_number(text):
    assert find_pans(text) == []


def test_scanner_reads_log_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "charging %s", (VISA_OK,), None)
    assert pans_in_log_records([record]) != []
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "charging %s", (), None)
    record.card = {"number": AMEX_OK}
    assert any(AMEX_OK in t for t in log_record_texts(record))
    assert pans_in_log_records([record]) == [("x", AMEX_OK)]
    try:
        raise ValueError(f"bad card {MASTERCARD_OK}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert pans_in_log_records([record]) == [("x", MASTERCARD_OK)]


def test_cvc_token_match():
    assert contains_token('{"cvc": "918"}', "918")
    assert contains_token("918", "918")
    assert not contains_token("pay_01X918ABC", "918")
    assert not contains_token("19180", "918")
    assert not contains_token("(0.918) SELECT", "918")


# --- Database scan: positive controls -----------------------------------------------------------


@pytest.mark.django_db
def test_database_scan_finds_a_planted_pan_and_cvc(merchant):
    from cards.tests.factories import make_card
    from payments.tests.factories import make_payment

    payment = make_payment(merchant)
    make_card(merchant)
    clean = scan_database(pans=ALL_PANS, cvcs=CVCS)
    assert clean["luhn"] == [] and clean["cvc"] == [] and clean["pan_bytes"] == []

    from payments.models import Payment

    Payment.objects.filter(pk=payment.pk).update(description=f"card {VISA_OK}", metadata={"cvc": VISA_CVC})
    Card.objects.filter(pk=payment.card_id).update(pan_ciphertext=b"\x00" + MASTERCARD_OK.encode())
    dirty = scan_database(pans=ALL_PANS, cvcs=CVCS)
    assert ("payments_payment", "description", VISA_OK) in dirty["luhn"]
    assert ("payments_payment", "metadata", VISA_CVC) in dirty["cvc"]
    assert ("cards_card", "pan_ciphertext") in dirty["pan_bytes"]
    assert ("cards_card", "pan_ciphertext", MASTERCARD_OK) not in dirty["luhn"]  # binary is searched as bytes


@pytest.mark.django_db
def test_database_scan_skips_latencies_but_not_other_integers(merchant):
    """A latency of 918 ms is not a CVC (it happens under load); any other integer column equal to one is."""
    from django.utils import timezone

    from core.models import ApiRequestLog
    from payments.models import Payment
    from payments.tests.factories import make_payment

    payment = make_payment(merchant)
    ApiRequestLog.objects.create(id="req_pci", merchant_id=merchant.pk, method="POST", path="/v1/payments",
                                 status_code=201, latency_ms=int(VISA_CVC), created=timezone.now())
    assert scan_database(cvcs=CVCS)["cvc"] == []
    Payment.objects.filter(pk=payment.pk).update(amount=int(VISA_CVC), amount_captured=0)
    assert ("payments_payment", "amount", VISA_CVC) in scan_database(cvcs=CVCS)["cvc"]


# --- The scenario -------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog):
    """Every logger at DEBUG, SQL statements logged, records of non-propagating loggers captured too."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="")
    extra_handled = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                extra_handled.append(logger)
    forced = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = forced
    for logger in extra_handled:
        logger.removeHandler(caplog.handler)


def card(number, cvc=VISA_CVC, **extra):
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvc, **extra}


def run_scenario(merchant) -> dict:
    """Drive the API end to end. Returns what was created, for the checks."""
    seen = {"statuses": [], "declines": []}
    client, secret = make_client(merchant)
    r = APIClient().post("/oauth/token/", {"grant_type": "client_credentials", "client_id": client.client_id,
                                           "client_secret": secret, "scope": "payments:read payments:write "
                                           "refunds:write cards:read cards:write"})
    assert r.status_code == 200, r.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['access_token']}")

    # Tokenize cards (one with an idempotent replay).
    tokens = {}
    for number, cvc in ((VISA_OK, VISA_CVC), (AMEX_OK, AMEX_CVC), ("5555 5555 5555 4444", VISA_CVC)):
        r = api.post("/v1/cards", card(number, cvc, name="Jane Doe"), format="json",
                     HTTP_IDEMPOTENCY_KEY=f"card-{number[-4:]}")
        assert r.status_code == 201, r.content
        tokens[number] = r.json()["id"]
    r = api.post("/v1/cards", card(VISA_OK, VISA_CVC, name="Jane Doe"), format="json", HTTP_IDEMPOTENCY_KEY="card-4242")
    assert r["Idempotent-Replayed"] == "true"

    # Raw card payments: captured, authorized then captured, authorized then canceled.
    first = {"amount": 2500, "currency": "EUR", "card": card(VISA_OK), "metadata": {"order": "A-1"},
             "description": "Order A-1", "customer_email": "jane@example.com"}
    r = api.post("/v1/payments", first, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert r.status_code == 201, r.content
    captured = r.json()["id"]
    r = api.post("/v1/payments", first, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert r["Idempotent-Replayed"] == "true"
    r = api.post("/v1/payments", {**first, "card": card(MASTERCARD_OK)}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert r.status_code == 422
    r = api.post("/v1/payments", {"amount": 4000, "currency": "USD", "capture": False,
                                  "card": card(DISCOVER_OK)}, format="json")
    assert r.status_code == 201, r.content
    r = api.post(f"/v1/payments/{r.json()['id']}/capture", {"amount": 3000}, format="json")
    assert r.status_code == 200, r.content
    r = api.post("/v1/payments", {"amount": 1500, "currency": "EUR", "capture": False,
                                  "card": card(AMEX_OK, AMEX_CVC)}, format="json", HTTP_IDEMPOTENCY_KEY="pay-3")
    assert r.status_code == 201, r.content
    r = api.post(f"/v1/payments/{r.json()['id']}/cancel", format="json", HTTP_IDEMPOTENCY_KEY="cancel-3")
    assert r.status_code == 200, r.content

    # Card token payments.
    for number, token in tokens.items():
        r = api.post("/v1/payments", {"amount": 1200, "currency": "EUR", "card_token": token}, format="json",
                     HTTP_IDEMPOTENCY_KEY=f"tok-{number[-4:]}")
        assert r.status_code == 201, r.content

    # Every decline, with and without an idempotency key.
    for i, number in enumerate(DECLINING):
        r = api.post("/v1/payments", {"amount": 1700, "currency": "EUR", "card": card(number)}, format="json",
                     **({"HTTP_IDEMPOTENCY_KEY": f"decline-{i}"} if i % 2 else {}))
        assert r.status_code == 402, r.content
        seen["declines"].append(r.json()["error"]["decline_code"])
    # A declining card tokenized, then charged.
    r = api.post("/v1/cards", card(DECLINING[0]), format="json")
    assert r.status_code == 201
    r = api.post("/v1/payments", {"amount": 1700, "currency": "EUR", "card_token": r.json()["id"]}, format="json")
    assert r.status_code == 402

    # Refunds, full and partial.
    r = api.post("/v1/refunds", {"payment": captured, "amount": 500, "reason": "requested_by_customer"},
                 format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert r.status_code == 201, r.content
    r = api.post("/v1/refunds", {"payment": captured}, format="json")
    assert r.status_code == 201, r.content

    # Validation errors that carry card data.
    for bad in (card(INVALID_NUMBERS[0]), card(INVALID_NUMBERS[1]), card(VISA_OK, "91x"),
                card(AMEX_OK, VISA_CVC), {**card(VISA_OK), "exp_year": 2001}):
        r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": bad}, format="json",
                     HTTP_IDEMPOTENCY_KEY=f"bad-{len(seen['statuses'])}")
        assert r.status_code == 400, r.content
        seen["statuses"].append(r.status_code)
        r = api.post("/v1/cards", {k: v for k, v in bad.items() if k != "name"}, format="json")
        assert r.status_code == 400, r.content

    # Reads.
    assert api.get("/v1/payments", {"limit": 100}).status_code == 200
    assert api.get("/v1/cards").status_code == 200
    assert api.get(f"/v1/payments/{captured}").status_code == 200
    assert api.get("/v1/refunds").status_code == 200
    # A deleted card.
    r = api.delete(f"/v1/cards/{tokens[AMEX_OK]}")
    assert r.status_code == 200
    return seen


@pytest.mark.django_db(transaction=True)
def test_no_pan_or_cvc_in_database_or_logs(merchant, debug_logs):
    seen = run_scenario(merchant)
    assert sorted(seen["declines"]) == sorted(TestSimulator.DECLINING_CARDS.values())

    # The scenario really stored card data (encrypted) and logged SQL: the scans below have material.
    assert Card.objects.filter(pan_ciphertext__isnull=False).count() >= 8
    assert any(r.name == "django.db.backends" for r in debug_logs.records)
    assert any("cards_card" in r.getMessage() for r in debug_logs.records)

    # (a) every text, char and JSON column of every table: no Luhn-valid number, no CVC.
    result = scan_database(pans=ALL_PANS + INVALID_NUMBERS, cvcs=CVCS)
    assert {"cards_card", "payments_payment", "payments_paymentevent", "payments_refund", "core_idempotencykey",
            "oauth2_provider_accesstoken", "merchants_apiclient", "merchants_merchant"} <= result["tables"]
    assert ("core_idempotencykey", "response_body") in result["text_columns"]
    assert ("payments_payment", "metadata") in result["text_columns"]
    assert ("cards_card", "pan_ciphertext") in result["binary_columns"]
    assert result["luhn"] == []
    assert result["cvc"] == []
    # (c) not in binary columns either.
    assert result["pan_bytes"] == []
    # Not even the Luhn-invalid numbers that were sent, nor any PAN as a plain substring.
    everything = json.dumps([str(v) for _, _, v in _text_values()])
    for number in ALL_PANS + INVALID_NUMBERS:
        assert number not in everything

    # (b) the logs: formatted messages, raw args, exceptions and extras.
    assert pans_in_log_records(debug_logs.records) == []
    for record in debug_logs.records:
        for text in log_record_texts(record):
            for number in ALL_PANS + INVALID_NUMBERS:
                assert number not in text, (record.name, record.levelname)
            for cvc in CVCS:
                assert not contains_token(text, cvc), (record.name, cvc)


def _text_values():
    from .pci import iter_database_values

    return [(t, c, v) for t, c, v in iter_database_values() if not isinstance(v, bytes | memoryview)]


@pytest.mark.django_db
def test_log_scan_catches_a_leak(merchant, debug_logs):
    logging.getLogger("payments.leaky").debug("authorizing card %s cvc %s", VISA_OK, VISA_CVC)
    assert ("payments.leaky", VISA_OK) in pans_in_log_records(debug_logs.records)
