#!/usr/bin/env python
"""`make bench` (settlement): settle 1,000,000 captured payments of 100 merchants on PostgreSQL.

Creates a dedicated database (payments_bench_settlement), migrates it, generates the payments
set-based (INSERT ... SELECT generate_series) with their fees and their numbers in each merchant's
settlement sequence (as captures would have booked them), books each merchant's captures in the
ledger as one balanced entry per merchant (set-based, so the pending balances are real), VACUUMs
and ANALYZEs the payments (what autovacuum does to a table after inserts), then times
`payments.settlement.settlement_run` over all of them and, in the same run, a reference: a single
raw SQL statement computing the same per-merchant totals. Prints payments settled per second and
the ratio reference / settlement. The database is dropped at the end.

Knobs: BENCH_PAYMENTS (1000000), BENCH_MERCHANTS (100), BENCH_DB_URL (postgres://postgres@127.0.0.1:5432),
BENCH_DB_NAME (payments_bench_settlement), BENCH_KEEP_DB (set: leave the database in place after the run),
BENCH_EXPLAIN (set: print the plan of every statement of the run that takes 100 ms or more),
BENCH_NO_VACUUM (set: ANALYZE the generated payments but do not VACUUM them: the worst case for the
index-only scans, before autovacuum has visited the day's pages).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_DB_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB_NAME", "payments_bench_settlement")
PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "1000000"))
MERCHANTS = int(os.environ.get("BENCH_MERCHANTS", "100"))
NO_VACUUM = bool(os.environ.get("BENCH_NO_VACUUM"))
TARGET_RATE, TARGET_RATIO = 50_000, 0.5


def log(msg):
    print(f"[bench:settlement] {msg}", flush=True)


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> int:
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    try:
        os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["LOG_LEVEL"] = "WARNING"
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        return run()
    finally:
        from django.db import connections

        connections.close_all()
        if os.environ.get("BENCH_KEEP_DB"):
            log(f"kept {DB_NAME}")
        else:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            log(f"dropped {DB_NAME}")


def run() -> int:
    from django.db import connection, transaction

    from ledger import services as ledger
    from ledger.constants import AccountPurpose, EntryType
    from ledger.services import Line
    from merchants.fees import fee_plan_set
    from merchants.tests.factories import MerchantFactory
    from payments.models import Payment, SettlementLine
    from payments.settlement import settlement_run
    from payments.tests.factories import make_payment

    log(f"generating {PAYMENTS:,} captured payments across {MERCHANTS} merchants ...")
    t0 = time.perf_counter()
    merchants = [MerchantFactory(name=f"bench {i:03d}", payout_iban="DE89370400440532013000") for i in range(MERCHANTS)]
    for m in merchants:
        fee_plan_set(merchant_id=m.pk, currency="EUR", percent_bps=140, fixed_amount=25)
    template = make_payment(merchants[0], amount=1000)  # a real payment: its card and columns are the template
    fields = [f.column for f in Payment._meta.concrete_fields]
    override = {
        "id": "'pay_B' || lpad(g::text, 21, '0')",
        "merchant_id": f"(m.ids)[1 + g %% {MERCHANTS}]",
        "amount": "a.amount", "amount_captured": "a.amount", "amount_capturable": "0", "amount_refunded": "0",
        "fee": "LEAST(a.amount, (a.amount * 140 * 2 + 10000) / 20000 + 25)",
        # Merchant k's payments are g = k, k + M, k + 2M, ...: numbered after what its sequence already holds,
        # booked now (after the template's capture: booking times follow the numbers).
        "settlement_sequence_id": f"(m.sequences)[1 + g %% {MERCHANTS}]",
        "settlement_seq": f"(m.booked)[1 + g %% {MERCHANTS}] + (g + {MERCHANTS - 1}) / {MERCHANTS}",
        "captured_at": "now()", "created": "now() - interval '1 hour'",
        "updated": "now() - interval '1 hour'", "idempotency_key": "''",
    }
    select = ", ".join(override.get(c, f"t.{c}") for c in fields)
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO payments_settlementsequence (merchant_id, currency, livemode, booked, booked_at, settled)
            SELECT id, 'EUR', false, 0, now(), 0 FROM merchants_merchant WHERE name LIKE 'bench %%'
            ON CONFLICT (merchant_id, currency, livemode) DO NOTHING""")
        cursor.execute(f"""
            INSERT INTO payments_payment ({", ".join(fields)})
            SELECT {select}
            FROM generate_series(1, %s) AS g
            CROSS JOIN LATERAL (SELECT (100 + (g::bigint * 7919) %% 50000)::bigint AS amount) a
            CROSS JOIN (SELECT array_agg(mm.id ORDER BY mm.id) AS ids, array_agg(q.id ORDER BY mm.id) AS sequences,
                               array_agg(q.booked ORDER BY mm.id) AS booked
                          FROM merchants_merchant mm JOIN payments_settlementsequence q
                            ON q.merchant_id = mm.id AND q.currency = 'EUR' AND NOT q.livemode
                         WHERE mm.name LIKE 'bench %%') m
            CROSS JOIN (SELECT * FROM payments_payment WHERE id = %s) t""", [PAYMENTS, template.pk])
        cursor.execute("""
            UPDATE payments_settlementsequence q SET booked = n.last, booked_at = GREATEST(q.booked_at, n.at)
              FROM (SELECT settlement_sequence_id AS id, MAX(settlement_seq) AS last, MAX(captured_at) AS at
                      FROM payments_payment GROUP BY 1) n
             WHERE q.id = n.id""")
    with connection.cursor() as cursor:
        # outside a transaction; BENCH_NO_VACUUM: only ANALYZE, as on a busy day before autovacuum has
        # marked the new pages all-visible (every item then costs a heap visit)
        cursor.execute("ANALYZE payments_payment" if NO_VACUUM else "VACUUM ANALYZE payments_payment")
        totals = list(_per_merchant(cursor))
    with transaction.atomic():  # the captures in the ledger, one balanced entry per merchant
        for merchant_id, _count, gross, fees, _net in totals:
            ledger.entry_post(key=f"bench:captures:{merchant_id}", type=EntryType.PAYMENT, currency="EUR",
                              livemode=False, merchant_id=merchant_id, amount=gross, fee=fees,
                              lines=[Line(AccountPurpose.SCHEME_RECEIVABLE, gross),
                                     Line(AccountPurpose.MERCHANT_PENDING, -(gross - fees), merchant_id),
                                     Line(AccountPurpose.FEE_REVENUE, -fees)])
    count = sum(t[1] for t in totals)
    log(f"generated {count:,} payments in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        reference = {row[0]: row[1:] for row in _per_merchant(cursor)}
    reference_s = time.perf_counter() - t0

    period = date(2030, 1, 1)
    import payments.settlement as settlement_module

    stages = []
    settlement_module._checkpoint = lambda stage: stages.append((stage, time.perf_counter()))
    t0 = time.perf_counter()
    if os.environ.get("BENCH_EXPLAIN"):  # the plan of every statement of the run that takes 100 ms or more
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute("SET auto_explain.log_min_duration = 100")
            cursor.execute("SET auto_explain.log_analyze = on")
            cursor.execute("SET auto_explain.log_buffers = on")
            cursor.execute("SET client_min_messages = log")
        connection.connection.add_notice_handler(lambda notice: print(notice.message_primary, flush=True))
    ids = settlement_run(period=period, cutoff=datetime.now(UTC) + timedelta(seconds=1))
    previous = t0
    for stage, at in stages:  # where the time goes, per step of the run
        log(f"  {stage:22} {at - previous:7.2f} s")
        previous = at
    settle_s = time.perf_counter() - t0

    from payments.models import Settlement

    settled = {s.merchant_id: (s.payment_count, s.gross, s.fees, s.net) for s in Settlement.objects.filter(pk__in=ids)}
    assert settled == reference, "settlement totals differ from the reference"
    assert SettlementLine.objects.count() == count
    rate = count / settle_s
    ratio = reference_s / settle_s
    print(f"payments settled:       {count:,} in {len(ids)} batches")
    print(f"settlement:             {settle_s:.2f} s  ({rate:,.0f} payments/s)")
    print(f"reference (1 SQL agg):  {reference_s:.2f} s  ({count / reference_s:,.0f} payments/s)")
    print(f"ratio reference/settle: {ratio:.3f}")
    print(f"targets: >= {TARGET_RATE:,} payments/s: {'met' if rate >= TARGET_RATE else 'MISSED'}; "
          f"ratio >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}")
    return 0


def _per_merchant(cursor):
    cursor.execute("""SELECT merchant_id, COUNT(*), SUM(amount_captured), SUM(fee), SUM(amount_captured - fee)
                      FROM payments_payment WHERE amount_captured > 0 AND captured_at < now()
                      GROUP BY merchant_id""")
    return cursor.fetchall()


if __name__ == "__main__":
    sys.exit(main())
