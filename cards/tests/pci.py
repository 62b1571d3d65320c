"""PCI DSS scanners for tests: find card numbers (PANs) in text, log records, database rows and pages.

A candidate is a run of 13 to 19 digits, optionally grouped by single spaces or dashes
("4242 4242 4242 4242"), that is not glued to other letters or digits (so hex digests and random
ids, which mix letters and digits, are not candidates) and is not part of a decimal number.
Inside a longer run of digits every 13-19 digit window is checked, so a PAN concatenated with
other digits is still found.
A candidate is reported when it passes the Luhn check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import traceback

from cards.vault import luhn_valid

PAN_MIN, PAN_MAX = 13, 19

# A digit, then digits optionally separated by one space or dash; not touching letters or digits on either
# side, and not the fraction or integer part of a decimal number (a logged duration such as 0.000154027999997).
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(?<!\d\.)\d(?:[ -]?\d){12,}(?![0-9A-Za-z])(?!\.\d)")


def _windows(digits: str):
    if len(digits) <= PAN_MAX:
        yield digits
        return
    for size in range(PAN_MIN, PAN_MAX + 1):
        for start in range(len(digits) - size + 1):
            yield digits[start : start + size]


def find_pans(text) -> list[str]:
    """Every Luhn-valid 13-19 digit sequence in `text` (str, bytes or anything with a str())."""
    if text is None:
        return []
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("latin-1")
    elif not isinstance(text, str):
        text = str(text)
    found = []
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        for window in _windows(digits):
            if PAN_MIN <= len(window) <= PAN_MAX and luhn_valid(window):
                found.append(window)
    return found


def contains_token(text: str, token: str) -> bool:
    """True if `token` (a CVC, say) occurs in `text` on its own: not glued to letters or digits, and
    not the decimals of a number such as a logged duration ("(0.918)")."""
    pattern = rf"(?<![0-9A-Za-z])(?<!\d\.){re.escape(token)}(?![0-9A-Za-z])(?!\.\d)"
    return re.search(pattern, text) is not None


# --- Log records -----------------------------------------------------------------------------


def log_record_texts(record: logging.LogRecord) -> list[str]:
    """Everything a log record could write out: message, raw msg and args, exception, extras."""
    texts = []
    with contextlib.suppress(Exception):  # a broken format string still has its msg and args scanned below
        texts.append(record.getMessage())
    texts.append(str(record.msg))
    texts.append(repr(record.args))
    if record.exc_info and record.exc_info[0] is not None:
        texts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    # Standard attributes, and what formatters add (the time, the message already scanned above).
    standard = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"asctime", "message"}
    for key, value in vars(record).items():
        if key not in standard:
            texts.append(f"{key}={value!r}")
    return texts


def pans_in_log_records(records) -> list[tuple[str, str]]:
    """(logger name, PAN) for every Luhn-valid number found in the records."""
    return [(record.name, pan) for record in records for text in log_record_texts(record) for pan in find_pans(text)]


# --- Database --------------------------------------------------------------------------------


def iter_database_values(connection=None):
    """(table, column, value) for every column of every row of every table in the database."""
    if connection is None:
        from django.db import connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            columns = [col.name for col in connection.introspection.get_table_description(cursor, table)]
            if not columns:
                continue
            cursor.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    yield table, column, value


def _as_text(value) -> str | None:
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


# Integer columns that hold a measurement (a request's or a webhook attempt's latency in milliseconds): under
# load a latency of 600-999 ms equals a three-digit CVC often enough to make a scan flaky, and a CVC stored
# by mistake would not land in a column of that name.
MEASUREMENT_COLUMNS = frozenset({"latency_ms"})


def scan_database(*, pans=(), cvcs=(), connection=None) -> dict:
    """Scan every column of every row.

    Returns {"luhn": [(table, column, pan)], "cvc": [...], "pan_bytes": [...],
    "tables": set, "text_columns": set, "binary_columns": set}.
    Text (char, text, JSON and everything else rendered with str()) is scanned for Luhn-valid
    numbers and the given CVCs; binary columns are searched for the given PANs' bytes.
    Primary and foreign keys, and integer measurement columns (MEASUREMENT_COLUMNS), are not searched for
    CVCs: an integer id reaches 918 soon enough, and a latency of 918 ms happens under load.
    """
    if connection is None:
        from django.db import connection
    result = {"luhn": [], "cvc": [], "pan_bytes": [], "tables": set(), "text_columns": set(),
              "binary_columns": set()}
    pan_bytes = [p.encode() for p in pans] + [p.encode("utf-16-le") for p in pans]
    key_columns = _key_columns(connection)
    for table, column, value in iter_database_values(connection):
        result["tables"].add(table)
        if isinstance(value, bytes | bytearray | memoryview):
            result["binary_columns"].add((table, column))
            blob = bytes(value)
            result["pan_bytes"] += [(table, column) for needle in pan_bytes if needle in blob]
            continue
        text = _as_text(value)
        if text is None:
            continue
        if isinstance(value, str | dict | list):
            result["text_columns"].add((table, column))
        result["luhn"] += [(table, column, pan) for pan in find_pans(text)]
        if isinstance(value, int) and ((table, column) in key_columns or column in MEASUREMENT_COLUMNS):
            continue
        result["cvc"] += [(table, column, cvc) for cvc in cvcs if contains_token(text, cvc)]
    return result


def _key_columns(connection) -> set[tuple[str, str]]:
    """(table, column) of every primary-key and foreign-key column."""
    keys = set()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for constraint in connection.introspection.get_constraints(cursor, table).values():
                if constraint["primary_key"] or constraint["foreign_key"]:
                    keys.update((table, column) for column in constraint["columns"])
    return keys
