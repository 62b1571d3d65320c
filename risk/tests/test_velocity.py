"""The Redis and database velocity backends give identical answers, at the window edges too."""

import random

import pytest

from ..velocity import Entry, velocity_key

pytestmark = pytest.mark.django_db

HOUR_MS = 3600 * 1000
T0 = 1_800_000_000_000  # a fixed clock (ms)


def test_backends_agree_on_a_random_history(db_velocity, redis_velocity):
    rng = random.Random(5)
    keys = [velocity_key("card", f"c{i}") for i in range(4)]
    now = T0
    for step in range(300):
        now += rng.randint(0, 20 * 60 * 1000)  # up to 20 minutes between attempts
        key = rng.choice(keys)
        wanted = [(k, w) for k in keys for w in (HOUR_MS // 1000, 24 * 3600)]
        assert db_velocity.read(wanted, now) == redis_velocity.read(wanted, now), step
        entry = Entry(key, f"ra_{step}", rng.randint(1, 100_000))
        db_velocity.record([entry], now)
        redis_velocity.record([entry], now)
    # and something was counted at all
    final = db_velocity.read([(keys[0], 24 * 3600)], now)[(keys[0], 24 * 3600)]
    assert final[0] > 0 and final[1] > 0


def test_read_and_record_in_one_call_agrees_across_backends(db_velocity, redis_velocity):
    """What assessments use: read the earlier attempts and count this one in the same call."""
    rng = random.Random(7)
    keys = [velocity_key("ip", f"198.51.100.{i}") for i in range(3)]
    now = T0
    for step in range(200):
        now += rng.randint(0, 30 * 60 * 1000)
        wanted = [(k, w) for k in keys for w in (600, 3600)]
        entries = [Entry(rng.choice(keys), f"ra_{step}", rng.randint(1, 50_000))]
        got_db = db_velocity.read_and_record(wanted, entries, now)
        got_redis = redis_velocity.read_and_record(wanted, entries, now)
        assert got_db == got_redis, step
        # this attempt is not in what was read, but the next read sees it
        key = entries[0].key
        assert db_velocity.read([(key, 600)], now)[(key, 600)][0] == got_db[(key, 600)][0] + 1
    assert any(count for count, _ in got_db.values())


@pytest.mark.parametrize("backend_name", ["db_velocity", "redis_velocity"])
def test_window_bounds(request, backend_name):
    backend = request.getfixturevalue(backend_name)
    key = velocity_key("ip", "192.0.2.1")
    backend.record([Entry(key, "a", 100)], T0)
    backend.record([Entry(key, "b", 200)], T0 + 1000)
    backend.record([Entry(key, "a", 100)], T0)  # the same member again counts once
    w = 3600
    assert backend.read([(key, w)], T0 + 1000) == {(key, w): (2, 300)}
    assert backend.read([(key, w)], T0 + 500) == {(key, w): (1, 100)}  # not yet the second one
    assert backend.read([(key, w)], T0 + HOUR_MS) == {(key, w): (1, 200)}  # the first left the window
    assert backend.read([(key, w)], T0 + HOUR_MS + 1000) == {(key, w): (0, 0)}
    other = velocity_key("ip", "192.0.2.2")
    assert backend.read([(other, w)], T0 + 1000) == {(other, w): (0, 0)}


def test_database_purge_keeps_the_longest_window(db_velocity):
    key = velocity_key("card", "x")
    db_velocity.record([Entry(key, "old", 1)], T0)
    db_velocity.record([Entry(key, "new", 1)], T0 + 23 * HOUR_MS)
    assert db_velocity.purge(T0 + 24 * HOUR_MS + 1) == 1
    assert db_velocity.read([(key, 24 * 3600)], T0 + 24 * HOUR_MS + 1) == {(key, 24 * 3600): (1, 1)}


def test_keys_do_not_hold_the_value():
    key = velocity_key("email", "someone@example.com")
    assert "example" not in key and key.startswith("email:")
