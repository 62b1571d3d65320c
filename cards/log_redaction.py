"""Second line of defence for PCI DSS: a logging filter that takes card numbers out of log output.

The first line is the code: a PAN lives only inside `cards.vault.CardNumber`, whose repr is
masked, and nothing logs card data (the PCI tests scan every captured record). This filter catches
what slips through anyway - a raw request body in an exception message, a third-party library
logging its arguments - and replaces every run of 13 to 19 digits (single spaces or dashes allowed
between them) that passes the Luhn check and falls in a card brand's number range with
`[REDACTED PAN]`, in the message and its arguments, the exception and stack text, and any extra
attributes of the record. Numbers that are not card numbers (ids, amounts, timestamps, a
Luhn-valid epoch in milliseconds, the decimals of a duration) are left alone.

It is wired on every handler in `settings.LOGGING`, added to any other handler present at start-up
(Django's own, gunicorn's: `install_pan_redaction()` from `CardsConfig.ready`) and to Celery's
worker handlers (config/celery.py). It never changes the record itself: a handler whose output
needs redacting gets a redacted copy, the way Python 3.12 lets a filter return a record (backported
below for 3.11). So a record's raw content stays visible to the tests' scanners, and a leak by the
code is still caught as a leak.

Cost: a record with fewer than 13 digits in it (almost all of them) costs one formatting of the
message and a digit count; the regular expression and the Luhn check run only past that.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import traceback

from cards.vault import Brand, detect_brand, luhn_valid

REDACTED = "[REDACTED PAN]"
PAN_MIN, PAN_MAX = 13, 19
_DIGITS = "0123456789"

# A stretch of digits, spaces and dashes long enough to hold a card number (a quick scan) and not part of a
# decimal number such as a logged duration; then inside it a digit followed by more digits, each optionally
# after one space or dash, not glued to other digits.
_STRETCH = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9][0-9 -]{11,}[0-9](?![0-9])(?!\.[0-9])")  # 13+ characters
_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")  # 13 digits or more

# Attributes every LogRecord has (and what formatters add): the rest are `extra=` values.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "taskName"}


def _has_enough_digits(text: str) -> bool:
    """The cheap pre-check: a card number needs at least 13 digits."""
    count = 0
    for digit in _DIGITS:
        count += text.count(digit)
        if count >= PAN_MIN:
            return True
    return False


def _is_pan(digits: str) -> bool:
    return luhn_valid(digits) and detect_brand(digits) != Brand.UNKNOWN


def _replace(match: re.Match) -> str:
    digits = match.group().replace(" ", "").replace("-", "")
    if len(digits) <= PAN_MAX:
        return REDACTED if _is_pan(digits) else match.group()
    # A longer run: a card number glued to other digits is still a card number.
    for size in range(PAN_MIN, PAN_MAX + 1):
        for start in range(len(digits) - size + 1):
            if _is_pan(digits[start : start + size]):
                return REDACTED
    return match.group()


def redact_pans(text: str) -> str:
    """`text` with every card number replaced by [REDACTED PAN] (the same string when there is none)."""
    if not _has_enough_digits(text):
        return text
    return _STRETCH.sub(_redact_stretch, text)


def _redact_stretch(match: re.Match) -> str:
    return _CANDIDATE.sub(_replace, match.group())


def _redacted(value):
    """The redacted text of any value, or None when its text holds no card number."""
    text = value if isinstance(value, str) else repr(value)
    redacted = redact_pans(text)
    return None if redacted is text or redacted == text else redacted


def redacted_record(record: logging.LogRecord) -> logging.LogRecord | None:
    """A copy of `record` with card numbers redacted, or None when it holds none."""
    changes = {}
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it with msg and args, so check those
        message = f"{record.msg} {record.args!r}"
    clean = _redacted(message)
    if clean is not None:
        changes["msg"], changes["args"] = clean, None
    if (record.exc_info and record.exc_info[0] is not None) or record.exc_text:
        text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = _redacted(text)
        if clean is not None:
            # The traceback goes out as text only: no handler renders the exception (or its frames) again.
            changes["exc_info"], changes["exc_text"] = None, clean
    if record.stack_info:
        clean = _redacted(record.stack_info)
        if clean is not None:
            changes["stack_info"] = clean
    for key in record.__dict__.keys() - _STANDARD_ATTRS:
        value = record.__dict__[key]
        if value is not None and not key.startswith("_"):
            clean = _redacted(value)
            if clean is not None:
                changes[key] = clean
    if not changes:
        return None
    redacted = copy.copy(record)
    redacted.__dict__.update(changes)
    redacted.__dict__.pop("message", None)  # a message cached by an earlier formatter
    return redacted


class PanRedactingFilter(logging.Filter):
    """Lets every record through; one holding a card number goes out as a redacted copy."""

    def filter(self, record):
        return redacted_record(record) or True


def install_pan_redaction(logger: logging.Logger | None = None) -> int:
    """Add the filter to every handler of `logger` (default: every logger there is) that lacks it.
    Returns how many handlers got it."""
    loggers = [logger] if logger is not None else [logging.getLogger()] + [
        item for item in list(logging.root.manager.loggerDict.values()) if isinstance(item, logging.Logger)]
    added = 0
    for each in loggers:
        for handler in list(each.handlers):
            if isinstance(handler, logging.NullHandler):  # emits nothing, never even runs its filters
                continue
            if not any(isinstance(f, PanRedactingFilter) for f in handler.filters):
                handler.addFilter(PanRedactingFilter())
                added += 1
    return added


# --- Python 3.12's "a filter may return a record" for 3.11 ----------------------------------------
# Copied from CPython 3.12 (Lib/logging/__init__.py): Filterer.filter hands the record a filter
# returned to the next filters and to the caller; Handler.handle and Logger.handle emit that record.
# Nothing else changes: a filter returning True or False behaves as before.

if sys.version_info < (3, 12):  # pragma: no cover - exercised on 3.11, a no-op from 3.12 on

    def _filterer_filter(self, record):
        for f in self.filters:
            result = f.filter(record) if hasattr(f, "filter") else f(record)
            if not result:
                return False
            if isinstance(result, logging.LogRecord):
                record = result
        return record

    def _handler_handle(self, record):
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):
            record = rv
        if rv:
            self.acquire()
            try:
                self.emit(record)
            finally:
                self.release()
        return rv

    def _logger_handle(self, record):
        if self.disabled:
            return
        maybe_record = self.filter(record)
        if not maybe_record:
            return
        if isinstance(maybe_record, logging.LogRecord):
            record = maybe_record
        self.callHandlers(record)

    logging.Filterer.filter = _filterer_filter
    logging.Handler.handle = _handler_handle
    logging.Logger.handle = _logger_handle
