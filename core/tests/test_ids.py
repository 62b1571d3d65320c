import itertools
import re

import pytest

from core.ids import PREFIXES, has_prefix, id_factory, new_id

BODY = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{26}$")  # Crockford base32: no I, L, O, U


@pytest.mark.parametrize("kind", sorted(PREFIXES))
def test_factories_make_prefixed_ids(kind):
    value = id_factory(kind)()
    prefix, _, body = value.partition("_")
    assert prefix == PREFIXES[kind]
    assert BODY.match(body), value
    assert has_prefix(value, kind)
    assert id_factory(kind).__name__ == f"new_{kind}_id"


def test_documented_prefixes():
    assert {k: PREFIXES[k] for k in ("payment", "refund", "card", "event", "webhook_endpoint", "settlement",
                                     "payout")} == {
        "payment": "pay", "refund": "re", "card": "card", "event": "evt", "webhook_endpoint": "we",
        "settlement": "stl", "payout": "po",
    }
    assert len(set(PREFIXES.values())) == len(PREFIXES)


def test_has_prefix_rejects_other_kinds_and_junk():
    assert not has_prefix(new_id("re"), "payment")
    assert not has_prefix("pay", "payment")
    assert not has_prefix("payx_123", "payment")
    assert not has_prefix(None, "payment")
    assert not has_prefix("pay_" + "A" * 80, "payment")


def test_ids_are_unique_over_many():
    ids = [new_id("pay") for _ in range(50_000)]
    assert len(set(ids)) == len(ids)


def test_ids_in_the_same_millisecond_are_still_unique():
    ids = {new_id("pay", now_ms=1_700_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000


def test_lexicographic_order_follows_time():
    times = [0, 1, 2, 999, 1_000, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_999, 2**48 - 1]
    for earlier, later in itertools.pairwise(times):
        for _ in range(200):  # whatever the random part
            assert new_id("pay", now_ms=earlier) < new_id("pay", now_ms=later)


def test_time_is_encoded_in_the_first_ten_characters():
    a = new_id("pay", now_ms=1_700_000_000_000)
    b = new_id("pay", now_ms=1_700_000_000_000)
    assert a[:14] == b[:14]  # "pay_" + 10 chars of time
    assert a != b


def test_ids_fit_the_model_columns():
    from core.ids import ID_MAX_LENGTH

    longest = max(PREFIXES.values(), key=len)
    assert len(new_id(longest, now_ms=2**48 - 1)) <= ID_MAX_LENGTH


def test_ids_made_in_a_row_sort_in_the_order_made_even_within_a_millisecond():
    from core.ids import new_id

    ids = [new_id("pay") for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
