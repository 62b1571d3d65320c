"""Sliding-window velocity counters with two interchangeable backends.

A key (e.g. `card:<hash>`) holds one entry per attempt: (member = assessment id, time in ms, amount).
`read(keys_windows, now_ms)` answers, for each (key, window), the count and amount sum of the entries
with `now - window < ts <= now`; `record(entries, now_ms)` adds entries. Both backends apply exactly
these bounds, so they give identical answers (risk/tests/test_velocity.py proves it):

- RedisVelocity: one sorted set per key (score = ts, member = "<id>:<amount>"), one round trip to
  read (a Lua script counts and sums every window inside Redis), one pipelined round trip to write
  (ZADD, trim entries older than the longest window, EXPIRE).
- DatabaseVelocity: rows in risk.VelocityEvent, one indexed (key, ts) range query for every counter
  at once and one bulk INSERT (on PostgreSQL both in one statement: one round trip); a beat task deletes
  rows older than the longest window.

The cost of a read depends on the attempts inside the window for that key, never on older history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from .constants import MAX_WINDOW
from .models import VelocityEvent

# Stored times are milliseconds since 2020-01-01 (12 digits until 2051), so that no stored number is a
# 13-19 digit run that the PCI scan of the database could take for a card number.
EPOCH_MS = 1_577_836_800_000


def velocity_key(dimension: str, value: str) -> str:
    """`card:<hash>`: values (emails, IPs) are hashed, so no personal data sits in the counters."""
    digest = hashlib.blake2b(value.encode(), digest_size=16, key=b"risk-velocity").hexdigest()
    return f"{dimension}:{digest}"


@dataclass(frozen=True)
class Entry:
    key: str
    member: str
    amount: int


class DatabaseVelocity:
    name = "database"

    def read(self, keys_windows: list[tuple[str, int]], now_ms: int) -> dict[tuple[str, int], tuple[int, int]]:
        return self._read(keys_windows, now_ms, ())

    def _read(self, keys_windows, now_ms: int, entries) -> dict[tuple[str, int], tuple[int, int]]:
        """Raw SQL: one UNION ALL of indexed (key, ts) range aggregates (building the same query with the ORM's
        conditional aggregates costs several milliseconds of Python per assessment). With `entries` (PostgreSQL
        only), the same statement inserts them in a data-modifying WITH: its SELECTs read the snapshot taken
        before the insert, so the new entries are not part of what is read, as with the other backend."""
        if not keys_windows and not entries:
            return {}
        stored_now = now_ms - EPOCH_MS
        table = VelocityEvent._meta.db_table
        sql, params = "", []
        if entries:
            values = ", ".join(["(%s, %s, %s, %s)"] * len(entries))
            sql = (f"WITH recorded AS (INSERT INTO {table} (key, member, ts, amount) VALUES {values} "  # noqa: S608
                   "ON CONFLICT (key, member) DO NOTHING) ")
            params = [v for e in entries for v in (e.key, e.member, stored_now, e.amount)]
        parts = []
        for i, (key, window) in enumerate(keys_windows):
            parts.append(f"SELECT {i}, COUNT(*), COALESCE(SUM(amount), 0) FROM {table} "  # noqa: S608 (ints)
                         "WHERE key = %s AND ts > %s AND ts <= %s")
            params += [key, stored_now - window * 1000, stored_now]
        if not parts:
            parts.append("SELECT -1, 0, 0")
        with connection.cursor() as cursor:
            cursor.execute(sql + " UNION ALL ".join(parts), params)
            found = {i: (int(c), int(s)) for i, c, s in cursor.fetchall()}
        return {kw: found.get(i, (0, 0)) for i, kw in enumerate(keys_windows)}

    def read_and_record(self, keys_windows, entries: list[Entry], now_ms: int):
        """`read`, then `record` (the new entries are not part of what is read): one statement on PostgreSQL."""
        if connection.vendor == "postgresql":
            return self._read(keys_windows, now_ms, entries)
        counts = self.read(keys_windows, now_ms)
        self.record(entries, now_ms)
        return counts

    def record(self, entries: list[Entry], now_ms: int) -> None:
        now_ms -= EPOCH_MS
        VelocityEvent.objects.bulk_create(
            [VelocityEvent(key=e.key, member=e.member, ts=now_ms, amount=e.amount) for e in entries],
            ignore_conflicts=True,
        )

    def purge(self, now_ms: int) -> int:
        deleted, _ = VelocityEvent.objects.filter(ts__lte=now_ms - EPOCH_MS - MAX_WINDOW * 1000).delete()
        return deleted


class RedisVelocity:
    name = "redis"
    prefix = "risk:v:"

    def __init__(self, client):
        self.client = client
        # EVALSHA: the scripts' text crosses the wire once per connection pool, not on every call.
        self._read_script = client.register_script(self._READ)
        self._read_and_record_script = client.register_script(self._READ_AND_RECORD)

    # Count and sum each window inside Redis: one round trip, and only two numbers per window cross the
    # wire, however many attempts the window holds (summing members in Python cost ~1 ms per 1,000).
    _READ = """
    local out = {}
    for i = 1, #KEYS do
      local members = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. ARGV[2 * i - 1], ARGV[2 * i])
      local total = 0
      for _, m in ipairs(members) do
        total = total + tonumber(string.match(m, ':(%-?%d+)$'))
      end
      out[i] = {#members, total}
    end
    return out
    """

    def read(self, keys_windows, now_ms):
        if not keys_windows:
            return {}
        keys = [self.prefix + key for key, _ in keys_windows]
        args = [bound for _, window in keys_windows for bound in (now_ms - window * 1000, now_ms)]
        rows = self._read_script(keys=keys, args=args)
        return {kw: (int(count), int(total)) for kw, (count, total) in zip(keys_windows, rows, strict=True)}

    # Read every window, then add the new entries (ZADD NX: a member counts once), trim what is older than
    # the longest window and refresh the expiry: one round trip.
    _READ_AND_RECORD = """
    local nread = tonumber(ARGV[1])
    local out = {}
    for i = 1, nread do
      local members = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. ARGV[2 * i], ARGV[2 * i + 1])
      local total = 0
      for _, m in ipairs(members) do
        total = total + tonumber(string.match(m, ':(%-?%d+)$'))
      end
      out[i] = {#members, total}
    end
    local now, oldest, ttl = ARGV[2 * nread + 2], ARGV[2 * nread + 3], ARGV[2 * nread + 4]
    for j = nread + 1, #KEYS do
      redis.call('ZADD', KEYS[j], 'NX', now, ARGV[2 * nread + 4 + (j - nread)])
      redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', oldest)
      redis.call('EXPIRE', KEYS[j], ttl)
    end
    return out
    """

    def read_and_record(self, keys_windows, entries, now_ms):
        keys = [self.prefix + key for key, _ in keys_windows] + [self.prefix + e.key for e in entries]
        args = [len(keys_windows)]
        args += [bound for _, window in keys_windows for bound in (now_ms - window * 1000, now_ms)]
        args += [now_ms, now_ms - MAX_WINDOW * 1000, MAX_WINDOW + 60]
        args += [f"{e.member}:{e.amount}" for e in entries]
        rows = self._read_and_record_script(keys=keys, args=args)
        return {kw: (int(count), int(total)) for kw, (count, total) in zip(keys_windows, rows, strict=True)}

    def record(self, entries, now_ms):
        if not entries:
            return
        pipe = self.client.pipeline(transaction=False)
        for e in entries:
            key = self.prefix + e.key
            pipe.zadd(key, {f"{e.member}:{e.amount}": now_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - MAX_WINDOW * 1000)
            pipe.expire(key, MAX_WINDOW + 60)
        pipe.execute()

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
