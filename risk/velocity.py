"""Sliding-window velocity counters in per-minute buckets, with two interchangeable backends.

A key (e.g. `card:<hash>`) counts attempts: each one adds 1 to the count and its amount to the sum of
the bucket of its time, `bucket = floor(ms since 2020-01-01 / 60,000)` (VELOCITY_BUCKET_SECONDS).
`read(keys_windows, now_ms)` answers, for each (key, window in seconds), the count and amount sum of
the buckets from the one holding `now - window` to the one holding `now`, both whole;
`record(entries, now_ms)` counts attempts; `read_and_record` does both in one round trip (what is
read does not include what it records).

Sliding window, to the bucket: the oldest bucket is counted whole, so a window of W counts the
attempts of the last W plus at most one bucket (60 s) more: up to 1 h 01 min for the 1-hour windows
(1.7 % longer), up to 24 h 01 min for the daily ones. It never counts fewer than the exact window.
Attempts later than `now` in the current minute (another server's clock, or a replay) are counted too.

The cost of a read is the number of buckets in the window (at most 61 for an hour, 1,441 for a day,
only the minutes that had attempts), never the number of attempts: a merchant taking 100 payments a
second reads 61 buckets like one taking 1 a minute. Both backends apply exactly these bounds, so they
give identical answers (risk/tests/test_velocity.py proves it):

- RedisVelocity: one hash per key, fields `c<bucket>` (count) and `s<bucket>` (sum); one Lua script
  reads every window (HGETALL, summed inside Redis) and counts the new attempts (HINCRBY) in one
  round trip. When an attempt opens a new bucket, the buckets no window of that key reads any more
  are deleted (at most once a minute per key), and the key expires after its longest window.
- DatabaseVelocity: risk.VelocityBucket rows (key, bucket, stripe, count, amount), one indexed range
  aggregate per window and one `INSERT ... ON CONFLICT DO UPDATE` for the new attempts, in one
  statement on PostgreSQL (the write in a WITH clause, which the statement's read does not see).
  The row of a busy key (a merchant's) is locked from the attempt to its transaction's commit, so
  attempts are spread over VELOCITY_DB_STRIPES rows per bucket (by assessment id) and queue less on
  one another; rows are written in key order (no deadlock). A beat task deletes buckets older than
  the longest window. Redis is the backend for high concurrency.

An attempt is counted each time it is recorded (assessments record each attempt once: the id is new,
and a decline is recorded by the one transition that fails the payment).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from .constants import MAX_WINDOW, VELOCITY_WINDOWS
from .models import VelocityBucket

# Stored times are milliseconds since 2020-01-01, so that no stored number is a 13-19 digit run that
# the PCI scan of the database could take for a card number.
EPOCH_MS = 1_577_836_800_000
VELOCITY_BUCKET_SECONDS = 60
BUCKET_MS = VELOCITY_BUCKET_SECONDS * 1000
VELOCITY_DB_STRIPES = 4

# The longest window each dimension is read with: its buckets are kept that long (plus one bucket).
_KEEP_SECONDS: dict[str, int] = {}
for _dimension, _window, _ in VELOCITY_WINDOWS:
    _KEEP_SECONDS[_dimension] = max(_KEEP_SECONDS.get(_dimension, 0), _window)


def velocity_key(dimension: str, value: str) -> str:
    """`card:<hash>`: values (emails, IPs) are hashed, so no personal data sits in the counters."""
    digest = hashlib.blake2b(value.encode(), digest_size=16, key=b"risk-velocity").hexdigest()
    return f"{dimension}:{digest}"


def bucket_of(now_ms: int) -> int:
    """The bucket (minute since 2020-01-01) holding the time `now_ms` (ms since the Unix epoch)."""
    return (now_ms - EPOCH_MS) // BUCKET_MS


def window_buckets(window_seconds: int, now_ms: int) -> tuple[int, int]:
    """The first and last bucket a window of `window_seconds` ending at `now_ms` counts (both whole)."""
    return bucket_of(now_ms - window_seconds * 1000), bucket_of(now_ms)


def keep_seconds(key: str) -> int:
    """How long the buckets of `key` are read: the longest window of its dimension (24 h if unknown)."""
    return _KEEP_SECONDS.get(key.partition(":")[0], MAX_WINDOW)


@dataclass(frozen=True)
class Entry:
    key: str
    member: str  # the assessment id: spreads a busy key's attempts over the database stripes
    amount: int


class DatabaseVelocity:
    name = "database"

    @staticmethod
    def _read_sql(keys_windows: list[tuple[str, int]], now_ms: int) -> tuple[str, list]:
        # Raw SQL: one UNION ALL of indexed (key, bucket) range aggregates. Building the same query with the
        # ORM's conditional aggregates costs several milliseconds of Python per assessment.
        table = VelocityBucket._meta.db_table
        parts, params = [], []
        for i, (key, window) in enumerate(keys_windows):
            parts.append(f"SELECT {i}, COALESCE(SUM(count), 0), COALESCE(SUM(amount), 0) FROM {table} "  # noqa: S608
                         "WHERE key = %s AND bucket >= %s AND bucket <= %s")
            params += [key, *window_buckets(window, now_ms)]
        return " UNION ALL ".join(parts), params

    @staticmethod
    def _record_sql(entries: list[Entry], now_ms: int) -> tuple[str, list]:
        bucket = bucket_of(now_ms)
        rows: dict[tuple, list[int]] = {}
        for e in entries:
            row = rows.setdefault((e.key, bucket, zlib.crc32(e.member.encode()) % VELOCITY_DB_STRIPES), [0, 0])
            row[0] += 1
            row[1] += e.amount
        table = connection.ops.quote_name(VelocityBucket._meta.db_table)
        ordered = sorted(rows.items())  # one lock order for every writer: no deadlock between two attempts
        return (f"INSERT INTO {table} (key, bucket, stripe, count, amount) VALUES "  # noqa: S608 (our table)
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(ordered))
                + f" ON CONFLICT (key, bucket, stripe) DO UPDATE SET count = {table}.count + excluded.count, "
                  f"amount = {table}.amount + excluded.amount",
                [v for (key, b, stripe), (count, amount) in ordered for v in (key, b, stripe, count, amount)])

    @staticmethod
    def _counts(keys_windows, rows) -> dict[tuple[str, int], tuple[int, int]]:
        found = {i: (int(c), int(s)) for i, c, s in rows}
        return {kw: found.get(i, (0, 0)) for i, kw in enumerate(keys_windows)}

    def read(self, keys_windows: list[tuple[str, int]], now_ms: int) -> dict[tuple[str, int], tuple[int, int]]:
        if not keys_windows:
            return {}
        sql, params = self._read_sql(keys_windows, now_ms)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return self._counts(keys_windows, cursor.fetchall())

    def read_and_record(self, keys_windows, entries: list[Entry], now_ms: int):
        """`read`, then `record` (the new entries are not part of what is read): on PostgreSQL one statement,
        the write in a WITH clause (whose rows the statement's own read does not see)."""
        if not (keys_windows and entries and connection.vendor == "postgresql"):
            counts = self.read(keys_windows, now_ms)
            self.record(entries, now_ms)
            return counts
        write, write_params = self._record_sql(entries, now_ms)
        read, read_params = self._read_sql(keys_windows, now_ms)
        with connection.cursor() as cursor:
            cursor.execute(f"WITH counted AS ({write}) {read}", [*write_params, *read_params])
            return self._counts(keys_windows, cursor.fetchall())

    def record(self, entries: list[Entry], now_ms: int) -> None:
        if not entries:
            return
        sql, params = self._record_sql(entries, now_ms)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    def purge(self, now_ms: int) -> int:
        """Delete the buckets no window reads any more (older than the longest window and one bucket)."""
        deleted, _ = VelocityBucket.objects.filter(bucket__lt=bucket_of(now_ms - MAX_WINDOW * 1000)).delete()
        return deleted


class RedisVelocity:
    name = "redis"
    prefix = "risk:vb:"  # per-minute buckets (the former sorted sets were "risk:v:"; they expire)

    # KEYS: the keys read, then the keys written. ARGV: the number read; per key read its first and last
    # bucket; the bucket written; per key written its amount, its oldest bucket to keep and its expiry.
    # Reads sum inside Redis (two numbers per window cross the wire); a key read twice (1 h and 24 h) is
    # fetched once. Writes: HINCRBY count and sum; an attempt that opens a bucket deletes the buckets
    # older than the key's longest window.
    _SCRIPT = """
    local nread = tonumber(ARGV[1])
    local out, fetched = {}, {}
    for i = 1, nread do
      local lo, hi = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
      local fields = fetched[KEYS[i]]
      if not fields then
        fields = redis.call('HGETALL', KEYS[i])
        fetched[KEYS[i]] = fields
      end
      local count, total = 0, 0
      for j = 1, #fields, 2 do
        local name = fields[j]
        local b = tonumber(string.sub(name, 2))
        if b >= lo and b <= hi then
          if string.sub(name, 1, 1) == 'c' then
            count = count + tonumber(fields[j + 1])
          else
            total = total + tonumber(fields[j + 1])
          end
        end
      end
      out[i] = {count, total}
    end
    local at = 2 * nread + 2
    local bucket = ARGV[at]
    for j = nread + 1, #KEYS do
      local arg = at + 1 + 3 * (j - nread - 1)
      local opened = redis.call('HINCRBY', KEYS[j], 'c' .. bucket, 1) == 1
      redis.call('HINCRBY', KEYS[j], 's' .. bucket, ARGV[arg])
      if opened then
        local oldest = tonumber(ARGV[arg + 1])
        for _, name in ipairs(redis.call('HKEYS', KEYS[j])) do
          if tonumber(string.sub(name, 2)) < oldest then
            redis.call('HDEL', KEYS[j], name)
          end
        end
      end
      redis.call('EXPIRE', KEYS[j], ARGV[arg + 2])
    end
    return out
    """

    def __init__(self, client):
        self.client = client
        self._script = client.register_script(self._SCRIPT)  # EVALSHA, loaded once per Redis

    def read_and_record(self, keys_windows, entries, now_ms):
        keys = [self.prefix + key for key, _ in keys_windows] + [self.prefix + e.key for e in entries]
        args = [len(keys_windows)]
        args += [b for _, window in keys_windows for b in window_buckets(window, now_ms)]
        bucket = bucket_of(now_ms)
        args.append(bucket)
        for e in entries:
            keep = keep_seconds(e.key)
            args += [e.amount, bucket_of(now_ms - keep * 1000), keep + VELOCITY_BUCKET_SECONDS]
        if not keys:
            return {}
        rows = self._script(keys=keys, args=args)
        return {kw: (int(count), int(total)) for kw, (count, total) in zip(keys_windows, rows, strict=True)}

    def read(self, keys_windows, now_ms):
        return self.read_and_record(keys_windows, [], now_ms)

    def record(self, entries, now_ms):
        self.read_and_record([], entries, now_ms)

    def purge(self, now_ms):  # Redis trims on write and expires idle keys
        return 0


_redis_client = None
_redis_backend = None


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


def redis_flush() -> None:
    """Drop every velocity key (tests)."""
    client = _redis()
    keys = list(client.scan_iter(match=RedisVelocity.prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def backend():
    """Redis when RISK_VELOCITY_BACKEND says so (the default when REDIS_URL is set), else the database."""
    global _redis_backend
    if settings.RISK_VELOCITY_BACKEND == "redis":
        if _redis_backend is None:
            _redis_backend = RedisVelocity(_redis())
        return _redis_backend
    return DatabaseVelocity()
