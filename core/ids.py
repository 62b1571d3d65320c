"""Public identifiers: a type prefix and a random, time-ordered body.

`pay_01JD3X...`: 26 Crockford base32 characters, 48 bits of milliseconds since the epoch then
80 random bits (the ULID layout). Ids sort in creation order (strictly within a process, to the
millisecond across processes), so keyset pagination can use the id alone, and they reveal nothing
sequential about volumes.
"""

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

PREFIXES = {
    "merchant": "mer",
    "client": "cli",
    "payment": "pay",
    "payment_event": "pev",
    "refund": "re",
    "card": "card",
    "event": "evt",
    "webhook_endpoint": "we",
    "settlement": "stl",
    "payout": "po",
    "journal_entry": "txn",
    "request": "req",
    "audit": "aud",
    "risk_assessment": "ra",
    "risk_list_entry": "rle",
    "risk_rule": "rr",
    # Card issuing (#4): programs, cardholders, card accounts, issued cards, their events and authorizations.
    "issuing_program": "iprg",
    "cardholder": "ich",
    "card_account": "iacct",
    "issued_card": "ic",
    "issued_card_event": "icev",
    "issuing_authorization": "iauth",
    "issuing_authorization_event": "iaev",
    "invitation": "inv",
}


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


_lock = threading.Lock()
_last = [0, 0]  # (milliseconds, random part) of the last id this process made
_RANDOM_BITS = 80


def _next_body() -> int:
    """Monotonic within the process: in the same millisecond the random part grows by a random step,
    so ids made one after another sort in the order they were made (across processes, to the ms)."""
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1 + secrets.randbits(16)
            if rand >> _RANDOM_BITS:  # overflow (practically never): borrow the next millisecond
                ms, rand = last_ms + 1, secrets.randbits(_RANDOM_BITS - 1)
        else:
            rand = secrets.randbits(_RANDOM_BITS - 1)  # top bit clear: room to grow within the ms
        _last[:] = [ms, rand]
    return (ms << _RANDOM_BITS) | rand


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new public id such as `pay_01JD3X4Q8Z5N7W2M0C9K6T1R3B`."""
    body = _next_body() if now_ms is None else (now_ms << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    return f"{prefix}_{_encode(body, 26)}"


def first_id_at(prefix: str, when) -> str:
    """The smallest id `prefix` can have at `when` (an aware datetime): every id made earlier sorts below it,
    so `pk__lt=first_id_at(...)` selects by creation time on the primary key's index."""
    return f"{prefix}_{_encode(int(when.timestamp() * 1000) << _RANDOM_BITS, 26)}"


def _make_factory(kind: str):
    prefix = PREFIXES[kind]

    def make() -> str:
        return new_id(prefix)

    make.__name__ = make.__qualname__ = f"new_{kind}_id"
    return make


# new_payment_id(), new_card_id(), ...: module-level so migrations can reference them.
_FACTORIES = {kind: _make_factory(kind) for kind in PREFIXES}
globals().update({f.__name__: f for f in _FACTORIES.values()})


def id_factory(kind: str):
    """The callable for a model field default: `default=id_factory("payment")`."""
    return _FACTORIES[kind]


def has_prefix(value: str, kind: str) -> bool:
    return isinstance(value, str) and value.startswith(PREFIXES[kind] + "_") and len(value) < 64


ID_MAX_LENGTH = 40
