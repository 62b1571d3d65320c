"""The Redis and database velocity backends give identical answers, at the window edges too, and a window
is the exact sliding window to the minute (the buckets)."""

import random

import pytest

from ..velocity import EPOCH_MS, VELOCITY_DB_STRIPES, Entry, bucket_of, velocity_key

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


MINUTE_MS = 60 * 1000
T_MIN = T0 - (T0 - EPOCH_MS) % MINUTE_MS  # the start of a bucket (a whole minute since 2020-01-01)


@pytest.mark.parametrize("backend_name", ["db_velocity", "redis_velocity"])
def test_window_bounds_to_the_bucket(request, backend_name):
    """A window counts whole minutes: from the minute holding now - window to the minute holding now."""
    backend = request.getfixturevalue(backend_name)
    key = velocity_key("ip", "192.0.2.1")
    assert bucket_of(T_MIN) * MINUTE_MS + EPOCH_MS == T_MIN
    backend.record([Entry(key, "a", 100)], T_MIN + 10_000)
    backend.record([Entry(key, "b", 200)], T_MIN + 70_000)  # the next minute
    w = 3600
    assert backend.read([(key, w)], T_MIN + 70_000) == {(key, w): (2, 300)}
    assert backend.read([(key, w)], T_MIN + 5_000) == {(key, w): (1, 100)}  # its minute, whole: "a" counts
    assert backend.read([(key, w)], T_MIN - 1) == {(key, w): (0, 0)}  # the minute before: nothing yet
    # "a" (at :10 in its minute) left the exact window at T + 1h + 10 s, the bucketed one at the next minute
    assert backend.read([(key, w)], T_MIN + HOUR_MS + 10_001) == {(key, w): (2, 300)}
    assert backend.read([(key, w)], T_MIN + HOUR_MS + MINUTE_MS - 1) == {(key, w): (2, 300)}
    assert backend.read([(key, w)], T_MIN + HOUR_MS + MINUTE_MS) == {(key, w): (1, 200)}
    assert backend.read([(key, w)], T_MIN + HOUR_MS + 2 * MINUTE_MS) == {(key, w): (0, 0)}
    other = velocity_key("ip", "192.0.2.2")
    assert backend.read([(other, w)], T_MIN + 70_000) == {(other, w): (0, 0)}


@pytest.mark.parametrize("backend_name", ["db_velocity", "redis_velocity"])
def test_the_bucketed_window_is_never_shorter_and_at_most_a_minute_longer(request, backend_name):
    """Against the exact sliding window (attempts in (now - window, now]): never fewer, and every extra one
    is at most a minute older than the window (or later than now in now's own minute)."""
    backend = request.getfixturevalue(backend_name)
    rng = random.Random(11)
    key = velocity_key("card", "c")
    attempts = sorted(T0 + rng.randint(0, 3 * HOUR_MS) for _ in range(400))
    for n, at in enumerate(attempts):
        backend.record([Entry(key, f"ra_{n}", n)], at)
    for _ in range(60):
        now = T0 + rng.randint(0, 4 * HOUR_MS)
        got_count, got_sum = backend.read([(key, 3600)], now)[(key, 3600)]
        exact = [n for n, at in enumerate(attempts) if now - HOUR_MS < at <= now]
        end_of_minute = now - (now - EPOCH_MS) % MINUTE_MS + MINUTE_MS
        loose = [n for n, at in enumerate(attempts) if now - HOUR_MS - MINUTE_MS < at < end_of_minute]
        assert len(exact) <= got_count <= len(loose), now
        assert sum(exact) <= got_sum <= sum(loose), now


def test_a_busy_key_reads_its_buckets_not_its_attempts(db_velocity, django_assert_num_queries):
    """10,000 attempts in one hour are at most 61 buckets x 4 stripes: what a read touches."""
    from ..models import VelocityBucket

    key = velocity_key("merchant", "busy")
    for n in range(10_000):
        db_velocity.record([Entry(key, f"ra_{n}", 1)], T0 + n * 360)
    assert VelocityBucket.objects.filter(key=key).count() <= 61 * VELOCITY_DB_STRIPES
    with django_assert_num_queries(1):
        assert db_velocity.read([(key, 3600)], T0 + 9_999 * 360) == {(key, 3600): (10_000, 10_000)}


def test_redis_keeps_only_the_buckets_a_window_reads(redis_velocity):
    """A key's hash holds at most its longest window of minutes, and expires after it."""
    key = velocity_key("merchant", "busy")  # merchant windows are 1 hour
    for minute in range(180):
        redis_velocity.record([Entry(key, f"ra_{minute}", 1)], T_MIN + minute * MINUTE_MS)
    stored = redis_velocity.client.hgetall(redis_velocity.prefix + key)
    assert len(stored) == 2 * 61  # count and sum of the minutes an hour's window reads
    assert 3600 < redis_velocity.client.ttl(redis_velocity.prefix + key) <= 3660
    assert redis_velocity.read([(key, 3600)], T_MIN + 179 * MINUTE_MS)[(key, 3600)] == (61, 61)


def test_database_purge_keeps_the_longest_window(db_velocity):
    key = velocity_key("card", "x")
    db_velocity.record([Entry(key, "old", 1)], T0)
    db_velocity.record([Entry(key, "new", 1)], T0 + 23 * HOUR_MS)
    assert db_velocity.purge(T0 + 24 * HOUR_MS + 2 * MINUTE_MS) == 1
    assert db_velocity.read([(key, 24 * 3600)], T0 + 24 * HOUR_MS + 2 * MINUTE_MS) == {(key, 24 * 3600): (1, 1)}


def test_keys_do_not_hold_the_value():
    key = velocity_key("email", "someone@example.com")
    assert "example" not in key and key.startswith("email:")
