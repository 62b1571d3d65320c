#!/usr/bin/env python
"""`make bench` (risk): the latency one risk assessment adds to a payment, and how it grows with history.

One run: a fresh PostgreSQL database (migrated), then for each velocity backend (database, and Redis
when it answers) and each history size (0, 10,000 and 1,000,000 past assessments with their velocity
rows, generated set-based with generate_series), time `risk.services.assessment_create` (the call
payments makes before the processor, inside the payment's intent transaction: the commit, which the
payment makes anyway, is not timed) against a reference measured in the same run at the same
history: one indexed primary-key SELECT of an assessment. Prints median and p99 of both, the ratio,
and whether the target (median under 3 ms, not growing with history) is met; then the time of a
backtest of a rule over the last 30 days of the 1,000,000 assessments. The database is dropped at the end.

Knobs: --calls (timed calls per cell), --pg-url, --redis-url, --db-name (env BENCH_PG_URL, BENCH_REDIS_URL,
BENCH_DB_NAME).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import HarnessError, create_database, drop_database, ensure_services  # noqa: E402

TARGET_MEDIAN_MS = 3.0
SIZES = (0, 10_000, 1_000_000)
CARD_POOL = 50_000


def log(message: str) -> None:
    print(f"[bench:risk] {message}", flush=True)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def generate_history(cursor, *, start: int, end: int, merchant_id: str, card_keys: list[str], merchant_key: str,
                     now_ms: int) -> None:
    """Assessments start..end-1 over the last 30 days (10% for the benchmark's merchant) and their velocity
    buckets (card and merchant), never purged: the worst case for the database backend."""
    from risk.velocity import BUCKET_MS, EPOCH_MS

    cursor.execute(
        """
        INSERT INTO risk_assessment (id, payment_id, merchant_id, livemode, amount, currency, card_fingerprint,
            card_bin, card_last4, card_brand, card_country, customer_email, email_domain, ip, ip_country,
            merchant_country, score, decision, reasons, shadow_matches, signals, errors, review_outcome,
            review_note, reviewed_by, reviewed_at, created)
        SELECT 'ra_0H' || lpad(g::text, 24, '0'), 'pay_0H' || g,
               CASE WHEN g %% 10 = 0 THEN %(merchant)s ELSE 'mer_other' || (g %% 500) END, false,
               100 + (random() * 200000)::int, CASE WHEN g %% 7 = 0 THEN 'USD' ELSE 'EUR' END,
               md5((g %% %(pool)s)::text), CASE WHEN g %% 3 = 0 THEN '400005' ELSE '424242' END, '4242', 'visa',
               CASE WHEN g %% 3 = 0 THEN 'DE' ELSE 'US' END, '', CASE WHEN g %% 11 = 0 THEN 'bad.example'
               ELSE 'ok.example' END, NULL, '', 'DE', g %% 100,
               CASE WHEN g %% 100 >= 90 THEN 'block' WHEN g %% 100 >= 65 THEN 'review' ELSE 'allow' END,
               '[]', '[]', json_build_object('velocity', json_build_object('card_count_1h', g %% 7)), '[]',
               '', '', '', NULL, now() - random() * interval '30 days'
        FROM generate_series(%(start)s, %(end)s - 1) AS g
        """,
        {"merchant": merchant_id, "pool": CARD_POOL, "start": start, "end": end},
    )
    # Each attempt's card and merchant buckets (minute of a random time in the last 30 days), summed.
    cursor.execute(
        """
        INSERT INTO risk_velocitybucket (key, bucket, stripe, count, amount)
        SELECT key, bucket, 0, COUNT(*), SUM(1000) FROM (
            SELECT (%(keys)s::text[])[1 + g %% %(pool)s] AS key,
                   (%(now)s - %(epoch)s - (random() * 30 * 86400000)::bigint) / %(bucket_ms)s AS bucket
            FROM generate_series(%(start)s, %(end)s - 1) AS g
            UNION ALL
            SELECT CASE WHEN g %% 10 = 0 THEN %(mkey)s ELSE 'merchant:other' || (g %% 500) END,
                   (%(now)s - %(epoch)s - (random() * 30 * 86400000)::bigint) / %(bucket_ms)s
            FROM generate_series(%(start)s, %(end)s - 1) AS g) attempts
        GROUP BY key, bucket
        ON CONFLICT (key, bucket, stripe) DO UPDATE SET count = risk_velocitybucket.count + excluded.count,
            amount = risk_velocitybucket.amount + excluded.amount
        """,
        {"keys": card_keys, "pool": CARD_POOL, "now": now_ms, "epoch": EPOCH_MS, "bucket_ms": BUCKET_MS,
         "start": start, "end": end, "mkey": merchant_key},
    )
    cursor.execute("ANALYZE risk_assessment")
    cursor.execute("ANALYZE risk_velocitybucket")


def redis_history(client, *, start: int, end: int, card_keys: list[str], merchant_key: str, now_ms: int) -> None:
    """The same history in Redis, as far as Redis keeps it (a card's last 24 hours, a merchant's last hour)."""
    from risk.velocity import VELOCITY_BUCKET_SECONDS, RedisVelocity, bucket_of, keep_seconds

    rng = random.Random(start)
    counts: dict[tuple[str, int], int] = {}
    for g in range(start, end):
        ts = now_ms - rng.randint(0, 30 * 86_400_000)
        for key in [card_keys[g % CARD_POOL]] + ([merchant_key] if g % 10 == 0 else []):
            if ts > now_ms - keep_seconds(key) * 1000:
                counts[(key, bucket_of(ts))] = counts.get((key, bucket_of(ts)), 0) + 1
    pipe = client.pipeline(transaction=False)
    for (key, bucket), n in counts.items():
        pipe.hincrby(RedisVelocity.prefix + key, f"c{bucket}", n)
        pipe.hincrby(RedisVelocity.prefix + key, f"s{bucket}", n * 1000)
        pipe.expire(RedisVelocity.prefix + key, keep_seconds(key) + VELOCITY_BUCKET_SECONDS)
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


def measure(calls: int, merchant_id: str, backend, rng: random.Random) -> tuple[list[float], list[float]]:
    from django.db import transaction

    from risk.models import Assessment
    from risk.services import AssessmentInput, assessment_create

    some_id = Assessment.objects.order_by("?").values_list("id", flat=True).first() if calls else None
    assess_ms, ref_ms = [], []
    for i in range(calls + 200):
        card = rng.randrange(CARD_POOL)
        data = AssessmentInput(merchant_id=merchant_id, livemode=False, amount=rng.randint(100, 100_000),
                               currency="EUR", card_fingerprint=f"bench{card}", card_bin="424242", card_last4="4242",
                               card_brand="visa", customer_email=f"c{card}@ok.example",
                               ip=f"198.51.100.{card % 250}", merchant_country="DE", payment_id=f"pay_bench{i}")
        # As in payment_create: the assessment runs inside the payment's intent transaction, which commits
        # anyway; the commit is outside the timed region, so what is timed is what assessing adds.
        with transaction.atomic():
            t0 = time.perf_counter()
            a = assessment_create(data=data, backend=backend)
            t1 = time.perf_counter()
        Assessment.objects.filter(pk=some_id or a.pk).values_list("id", "score").first()
        t2 = time.perf_counter()
        if i >= 200:  # warm-up
            assess_ms.append((t1 - t0) * 1000)
            ref_ms.append((t2 - t1) * 1000)
    return assess_ms, ref_ms


def main() -> int:
    import urllib.parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"))
    parser.add_argument("--db-name", default=os.environ.get("BENCH_DB_NAME", "bench_risk"),
                        help="the database created and dropped (default bench_risk)")
    args, _ = parser.parse_known_args()
    try:
        ensure_services(urllib.parse.urlparse(args.pg_url), urllib.parse.urlparse(args.redis_url))
    except HarnessError as exc:
        log(f"cannot run: {exc}")
        return 2
    create_database(args.pg_url, args.db_name)
    try:
        os.environ.update(DATABASE_URL=f"{args.pg_url.rstrip('/')}/{args.db_name}", REDIS_URL=args.redis_url,
                          DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false", LOG_LEVEL="WARNING")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        return run(args, connection)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args.pg_url, args.db_name)


def run(args, connection) -> int:
    from merchants.models import Merchant
    from risk import velocity
    from risk.services import rule_backtest

    merchant = Merchant.objects.create(name="Bench merchant", country="DE")
    card_keys = [velocity.velocity_key("card", f"0:bench{k}") for k in range(CARD_POOL)]
    merchant_key = velocity.velocity_key("merchant", f"0:{merchant.pk}:EUR")
    now_ms = int(time.time() * 1000)
    backends = [("database", velocity.DatabaseVelocity(), None)]
    try:
        client = velocity._redis()
        client.ping()
        velocity.redis_flush()
        backends.append(("redis", velocity.RedisVelocity(client), client))
    except Exception as exc:
        log(f"Redis not measured: {exc}")
    rng = random.Random(7)
    rows, have = [], 0
    for size in SIZES:
        if size > have:
            log(f"generating history up to {size:,} assessments")
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                generate_history(cursor, start=have, end=size, merchant_id=merchant.pk, card_keys=card_keys,
                                 merchant_key=merchant_key, now_ms=now_ms)
            for _, _, client in backends:
                if client is not None:
                    redis_history(client, start=have, end=size, card_keys=card_keys, merchant_key=merchant_key,
                                  now_ms=now_ms)
            log(f"  ... {time.perf_counter() - t0:.1f} s")
            have = size
        for name, backend, _ in backends:
            assess_ms, ref_ms = measure(args.calls, merchant.pk, backend, rng)
            rows.append((size, name, statistics.median(ref_ms), pct(ref_ms, 0.99), statistics.median(assess_ms),
                         pct(assess_ms, 0.99)))
            log(f"  {name:8} at {size:>9,}: assess median {rows[-1][4]:.2f} ms")

    print()
    print(f"{'history':>10} {'velocity':>9} | {'ref p50':>8} {'ref p99':>8} | {'assess p50':>10} {'assess p99':>10} | "
          f"{'p50 ratio':>9}")
    for size, name, rp50, rp99, ap50, ap99 in rows:
        print(f"{size:>10,} {name:>9} | {rp50:>7.3f}  {rp99:>7.3f}  | {ap50:>9.3f}  {ap99:>9.3f}  | "
              f"{ap50 / rp50:>8.1f}x")
    print("(ms; reference: one indexed primary-key SELECT of an assessment, same run, same history)")
    ok = True
    for name, *_ in backends:
        mine = [r for r in rows if r[1] == name]
        small, big = mine[1][4], mine[-1][4]
        growth = big / small
        met = big < TARGET_MEDIAN_MS and growth < 1.5
        ok &= met
        print(f"{name}: median {small:.2f} ms at 10,000 -> {big:.2f} ms at 1,000,000 (x{growth:.2f}); "
              f"target median < {TARGET_MEDIAN_MS} ms and flat: {'met' if met else 'NOT met'}")

    print()
    for expression in ("payment.amount > 150000 && card.country != merchant.country",
                       'customer.email_domain in ["bad.example"] || velocity.card_count_1h >= 5'):
        result = rule_backtest(expression=expression, action="review", days=30)
        print(f"backtest over {result.total:,} assessments ({result.method}): {result.matched:,} flagged, "
              f"volume {result.volume}, {result.seconds:.2f} s  <- {expression}")
    return 0  # the harness ran; the table says whether the target is met


if __name__ == "__main__":
    sys.exit(main())
