"""The logging filter that redacts card numbers from every log record (PCI DSS second line of defence)."""

import io
import logging
import sys
import traceback

import pytest
from celery import signals
from django.conf import settings

from cards.log_redaction import REDACTED, PanRedactingFilter, install_pan_redaction, redact_pans, redacted_record
from cards.vault import CardNumber

from .factories import AMEX_OK, DISCOVER_OK, MASTERCARD_OK, VISA_OK
from .pci import find_pans, pans_in_log_records

VISA_13 = "4222222222222"
UNIONPAY_19 = "6200000000000000000"
LUHN_VALID_EPOCH_MS = "1717243496120"  # a timestamp in milliseconds that happens to pass the Luhn check
LUHN_VALID_EPOCH_US = "1717243496123462"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VISA_OK, REDACTED),
        ("4242 4242 4242 4242", REDACTED),
        ("4242-4242-4242-4242", REDACTED),
        ("4242 4242-4242 4242", REDACTED),
        (f"card={MASTERCARD_OK};", f"card={REDACTED};"),
        (f'{{"number": "{AMEX_OK}", "cvc": "1234"}}', f'{{"number": "{REDACTED}", "cvc": "1234"}}'),
        ("3782 822463 10005", REDACTED),  # Amex grouping
        (VISA_13, REDACTED),
        (UNIONPAY_19, REDACTED),
        (f"pay {DISCOVER_OK} and {VISA_OK}", f"pay {REDACTED} and {REDACTED}"),
        (f"x9999{VISA_OK}99 y", f"x{REDACTED} y"),  # glued to other digits: still a card number
        (f"card{VISA_OK}", f"card{REDACTED}"),  # glued to letters
        (f"the card is {VISA_OK}.", f"the card is {REDACTED}."),
    ],
)
def test_card_numbers_are_redacted(text, expected):
    assert redact_pans(text) == expected
    assert find_pans(redact_pans(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails the Luhn check
        "424242424242",  # 12 digits
        LUHN_VALID_EPOCH_MS,
        LUHN_VALID_EPOCH_US,
        "9223372036854775807",  # a bigint id
        "payment 12345678 of 250000 EUR minor units, fee 3525",
        "pay_01JD3X4Q8Z5N7W2M0C9K6T1R3B card_01JD3X4Q8Z5N7W2M0C9K6T1R3C",
        "2025-06-01 12:34:56.123456+00:00",
        "2025-06-01 2025-06-30",
        "424242******4242",
        "bin 424242 last4 4242",
        "+49 30 1234 5678",
        "DE89370400440532013000",  # an IBAN
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "9999999999999995",  # Luhn-valid but in no card brand's range
        "(0.000154027999997) SELECT 1",
        "0.4242424242424242",  # a float's decimals (Luhn-valid, in Visa's range)
        "4242424242424242.5",
        "",
    ],
)
def test_what_is_not_a_card_number_is_left_alone(text):
    assert redact_pans(text) == text


def record(msg, args=(), exc_info=None, **extra):
    rec = logging.LogRecord("payments.test", logging.INFO, __file__, 1, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def output(rec) -> str:
    """What a handler with the filter writes for this record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(card)s"
                                           if "card" in rec.__dict__ else "%(levelname)s %(message)s"))
    handler.addFilter(PanRedactingFilter())
    handler.handle(rec)
    return stream.getvalue()


def exc_info_with(message):
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()


def test_a_card_number_in_the_message_is_redacted():
    out = output(record(f"charging {VISA_OK} now"))
    assert out == f"INFO charging {REDACTED} now\n"


def test_a_card_number_in_the_arguments_is_redacted():
    out = output(record("charging %s for %d, card %r", ("4242 4242 4242 4242", 2500, {"number": AMEX_OK})))
    assert out == f"INFO charging {REDACTED} for 2500, card {{'number': '{REDACTED}'}}\n"


def test_a_card_number_in_the_exception_text_is_redacted():
    rec = record("payment failed", exc_info=exc_info_with(f"bad card {MASTERCARD_OK}"))
    out = output(rec)
    assert "Traceback" in out and f"ValueError: bad card {REDACTED}" in out
    assert find_pans(out) == []
    assert "payment failed" in out


def test_a_card_number_in_stack_info_and_extras_is_redacted():
    rec = record("lookup", stack_info=f"Stack (most recent call last):\n  check({VISA_OK})", card=DISCOVER_OK)
    out = output(rec)
    assert find_pans(out) == [] and out.count(REDACTED) == 2


def test_a_broken_format_string_with_a_card_number_is_redacted():
    out = output(record(f"card {VISA_OK} %s %s", ("only one",)))
    assert find_pans(out) == [] and REDACTED in out


def test_numbers_that_are_not_card_numbers_come_out_unchanged():
    rec = record("payment %s of %d at %s (epoch ms %s) for merchant id %d", (
        "pay_01JD3X4Q8Z5N7W2M0C9K6T1R3B", 250000, "2025-06-01 12:34:56.123456+00:00", LUHN_VALID_EPOCH_MS,
        9223372036854775807))
    assert redacted_record(rec) is None
    assert output(rec) == f"INFO {rec.getMessage()}\n"
    assert "1717243496120" in output(rec) and "250000" in output(rec)


def test_a_masked_card_number_argument_is_not_touched():
    rec = record("card %s", (CardNumber(VISA_OK),))
    assert redacted_record(rec) is None
    assert output(rec) == "INFO card CardNumber(424242...4242)\n"


def test_the_record_itself_is_never_changed():
    """Each handler gets a redacted copy: the record keeps what the code logged, so the PCI tests' scanners still
    see (and fail on) a leak by the code, and other handlers are not affected."""
    exc = exc_info_with(f"bad {VISA_OK}")
    rec = record("charging %s", (VISA_OK,), exc_info=exc, card=AMEX_OK)
    before = dict(rec.__dict__)
    output(rec)
    assert rec.__dict__ == before
    assert pans_in_log_records([rec]) != []
    copy = redacted_record(rec)
    assert copy is not rec and copy.args is None and copy.exc_info is None
    assert find_pans(copy.getMessage() + copy.exc_text + copy.card) == []


def test_other_filters_still_drop_or_pass_records():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PanRedactingFilter())
    handler.addFilter(lambda r: "drop" not in r.getMessage())
    handler.handle(record(f"drop {VISA_OK}"))
    handler.handle(record(f"keep {VISA_OK}"))
    handler.handle(record("plain"))
    assert stream.getvalue() == f"keep {REDACTED}\nplain\n"


def test_a_filter_on_a_logger_redacts_what_that_logger_emits():
    logger = logging.getLogger("cards.tests.redaction.logger_filter")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(PanRedactingFilter())
    logger.propagate = False
    try:
        logger.warning("card %s", VISA_OK)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"card {REDACTED}\n"


# --- Wiring ---------------------------------------------------------------------------------------


def test_every_handler_in_the_settings_has_the_filter():
    assert settings.LOGGING["filters"]["redact_pans"]["()"] == "cards.log_redaction.PanRedactingFilter"
    assert settings.LOGGING["handlers"]
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact_pans" in handler.get("filters", []), name


def test_every_handler_of_every_logger_redacts_after_start_up():
    loggers = [logging.getLogger()] + [lg for lg in logging.root.manager.loggerDict.values()
                                        if isinstance(lg, logging.Logger)]
    handlers = [h for lg in loggers for h in lg.handlers
                if not isinstance(h, logging.NullHandler) and type(h).__module__.split(".")[0] != "_pytest"]
    assert handlers  # the root console handler at least, and Django's own ("django", "django.server")
    for handler in handlers:
        assert any(isinstance(f, PanRedactingFilter) for f in handler.filters), handler


def test_the_configured_console_output_is_redacted(caplog):
    [console] = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)
                 and type(h).__module__.split(".")[0] != "_pytest"]
    stream = io.StringIO()
    old = console.setStream(stream)
    try:
        logger = logging.getLogger("payments.leaky")
        logger.warning("authorizing card %s", VISA_OK)
        try:
            raise RuntimeError(f"processor said no to {MASTERCARD_OK}")
        except RuntimeError:
            logger.exception("authorization failed for %s", "5555-5555-5555-4444")
    finally:
        console.setStream(old)
    written = stream.getvalue()
    assert "authorizing card [REDACTED PAN]" in written
    assert "RuntimeError: processor said no to [REDACTED PAN]" in written
    assert find_pans(written) == []
    # What the code logged is still there for the first-line scanners (caplog sees the record itself).
    assert ("payments.leaky", VISA_OK) in pans_in_log_records(caplog.records)


def test_celery_worker_handlers_get_the_filter():
    logger = logging.getLogger("cards.tests.redaction.celery_worker")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        signals.after_setup_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None,
                                        format="", colorize=False)
        assert any(isinstance(f, PanRedactingFilter) for f in handler.filters)
        assert install_pan_redaction(logger) == 0  # only once per handler
    finally:
        logger.removeHandler(handler)


def test_exception_text_is_formatted_as_logging_would():
    exc = exc_info_with(f"bad {VISA_OK}")
    rec = record("failed", exc_info=exc)
    expected = "".join(traceback.format_exception(*exc)).rstrip("\n").replace(VISA_OK, REDACTED)
    assert redacted_record(rec).exc_text == expected
