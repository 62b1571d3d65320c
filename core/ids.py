"""Public identifiers: a type prefix and a random, time-ordered body.

`pay_01JD3X...`: 26 Crockford base32 characters, 48 bits of milliseconds since the epoch then
80 random bits (the ULID layout). Ids sort in creation order, so keyset pagination can use the
id alone, and they reveal nothing sequential about volumes.
"""

import secrets
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
    "request": "req",
    "audit": "aud",
}


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new public id such as `pay_01JD3X4Q8Z5N7W2M0C9K6T1R3B`."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    body = (ms << 80) | secrets.randbits(80)
    return f"{prefix}_{_encode(body, 26)}"


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
