"""Every money invariant, checked over the whole database with aggregate queries.

Ledger: every entry balances per currency, cached balances equal the sum of postings, no
must-not-go-negative account is negative (ledger.selectors.ledger_problems). Payments:
refunded <= captured <= authorized; every captured payment has exactly its capture entry; every
settlement equals the sum of its lines; every settlement sequence numbers its items 1..N once each
and its settlements' ranges follow each other from 0 to its settled number; each merchant's
pending and available balances equal what the payments, refunds, settlements and payouts say
they should be. Card issuing (#4): each card account's held balance equals its pending
authorizations, each credit line its limit.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from cards import issuing_selectors
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.constants import AccountPurpose


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def payment_problems(limit: int = 50) -> list[str]:
    problems = []
    for pid, amount, captured, refunded in _rows(
        "SELECT id, amount, amount_captured, amount_refunded FROM payments_payment "
        "WHERE amount_refunded > amount_captured OR amount_captured > amount OR amount_refunded < 0 LIMIT %s",
        [limit]):
        problems.append(f"payment {pid}: refunded {refunded} <= captured {captured} <= authorized {amount} broken")
    for pid, captured, booked in _rows(
        "SELECT p.id, p.amount_captured, e.amount FROM payments_payment p LEFT JOIN ledger_journalentry e "
        "ON e.key = 'capture:' || p.id WHERE (p.amount_captured > 0 AND (e.id IS NULL OR e.amount <> p.amount_captured"
        " OR e.fee <> p.fee)) OR (p.amount_captured = 0 AND e.id IS NOT NULL) LIMIT %s", [limit]):
        problems.append(f"payment {pid}: captured {captured} but the ledger booked {booked}")
    for sid, field, stored, summed in _rows("""
        SELECT s.id, 'net', s.net, COALESCE(SUM(l.net), 0) FROM payments_settlement s
          LEFT JOIN payments_settlementline l ON l.settlement_id = s.id WHERE s.status = 'completed'
          GROUP BY s.id, s.net, s.gross, s.fees, s.refunds, s.payment_count, s.refund_count
          HAVING s.net <> COALESCE(SUM(l.net), 0)
              OR s.gross <> COALESCE(SUM(CASE WHEN l.type = 'payment' THEN l.gross ELSE 0 END), 0)
              OR s.fees <> COALESCE(SUM(l.fee), 0)
              OR s.refunds <> -COALESCE(SUM(CASE WHEN l.type = 'refund' THEN l.gross ELSE 0 END), 0)
              OR s.payment_count + s.refund_count <> COUNT(l.id)
          LIMIT %s""", [limit]):
        problems.append(f"settlement {sid}: {field} {stored} != sum of its lines {summed}")
    problems += _sequence_problems(limit)
    for sid, in _rows("SELECT id FROM payments_settlement WHERE status <> 'completed' LIMIT %s", [limit]):
        problems.append(f"settlement {sid} is not completed (a run died half-way?)")
    problems += _balance_problems()
    return problems


# Not settled: no number yet, or a number after its sequence's settled one.
_UNSETTLED = """({item}.settlement_seq IS NULL OR NOT EXISTS (SELECT 1 FROM payments_settlementsequence q
    WHERE q.id = {item}.settlement_sequence_id AND q.settled >= {item}.settlement_seq))"""

# Every numbered item, payments and refunds together.
_ITEMS = """(SELECT 'payment' AS kind, id, merchant_id, currency, livemode, settlement_sequence_id AS sequence_id,
                    settlement_seq AS seq FROM payments_payment WHERE settlement_sequence_id IS NOT NULL
             UNION ALL
             SELECT 'refund', id, merchant_id, currency, livemode, settlement_sequence_id, settlement_seq
               FROM payments_refund WHERE settlement_sequence_id IS NOT NULL) i"""


def _sequence_problems(limit: int) -> list[str]:
    """The settlement sequences: what makes each item settle exactly once (payments/settlement.py)."""
    problems = []
    # Numbered exactly when they should be: captured payments, and refunds that succeeded drawn on pending.
    for kind, item_id in _rows("""
        SELECT 'payment', id FROM payments_payment
         WHERE (amount_captured > 0) <> (settlement_seq IS NOT NULL AND settlement_sequence_id IS NOT NULL)
        UNION ALL
        SELECT 'refund', id FROM payments_refund WHERE (status = 'succeeded' AND funded_from = 'pending')
                                                 <> (settlement_seq IS NOT NULL AND settlement_sequence_id IS NOT NULL)
        LIMIT %s""", [limit]):
        problems.append(f"{kind} {item_id} has a settlement number it should not have, or lacks one it should")
    # In its own merchant's sequence (currency, mode); and so is each settlement.
    for kind, item_id in _rows(f"""
        SELECT i.kind, i.id FROM {_ITEMS} JOIN payments_settlementsequence q ON q.id = i.sequence_id
         WHERE q.merchant_id <> i.merchant_id OR q.currency <> i.currency OR q.livemode <> i.livemode
        UNION ALL
        SELECT 'settlement', s.id FROM payments_settlement s JOIN payments_settlementsequence q ON q.id = s.sequence_id
         WHERE q.merchant_id <> s.merchant_id OR q.currency <> s.currency OR q.livemode <> s.livemode
        LIMIT %s""", [limit]):  # noqa: S608 (ours)
        problems.append(f"{kind} {item_id} is in another merchant's, currency's or mode's settlement sequence")
    # Each sequence's items are numbered 1..booked, each number once (payments and refunds share it).
    for merchant_id, currency, livemode, booked, count, distinct, top in _rows(f"""
        SELECT q.merchant_id, q.currency, q.livemode, q.booked, COUNT(i.seq), COUNT(DISTINCT i.seq), MAX(i.seq)
          FROM payments_settlementsequence q LEFT JOIN {_ITEMS} ON i.sequence_id = q.id
         GROUP BY q.id, q.merchant_id, q.currency, q.livemode, q.booked
        HAVING COUNT(i.seq) <> q.booked OR COUNT(DISTINCT i.seq) <> q.booked OR COALESCE(MAX(i.seq), 0) <> q.booked
         LIMIT %s""", [limit]):  # noqa: S608 (ours)
        problems.append(f"settlement sequence {merchant_id} {currency} {'live' if livemode else 'test'}: "
                        f"{booked} booked but {count} item(s), {distinct} distinct number(s), the last {top}")
    # The settlements of a sequence cover 0..settled, each range starting where the previous one ended.
    for sid, merchant_id, seq_from, expected in _rows("""
        SELECT id, merchant_id, seq_from, previous FROM (
            SELECT s.id, s.merchant_id, s.seq_from, COALESCE(LAG(s.seq_to) OVER (
                       PARTITION BY s.sequence_id ORDER BY s.seq_from, s.seq_to, s.id), 0) AS previous
              FROM payments_settlement s) r
         WHERE seq_from <> previous LIMIT %s""", [limit]):
        problems.append(f"settlement {sid} of {merchant_id}: its range starts after number {seq_from}, "
                        f"the previous one ended at {expected} (a gap or an overlap)")
    for merchant_id, currency, livemode, settled, last in _rows("""
        SELECT q.merchant_id, q.currency, q.livemode, q.settled, COALESCE(MAX(s.seq_to), 0)
          FROM payments_settlementsequence q LEFT JOIN payments_settlement s ON s.sequence_id = q.id
         GROUP BY q.id, q.merchant_id, q.currency, q.livemode, q.settled
        HAVING COALESCE(MAX(s.seq_to), 0) <> q.settled LIMIT %s""", [limit]):
        problems.append(f"settlement sequence {merchant_id} {currency} {'live' if livemode else 'test'} is settled "
                        f"up to {settled} but its last settlement ends at {last}")
    return problems


def _balance_problems() -> list[str]:
    """Pending and available balances per (merchant, currency, mode) against the business records."""
    expected: dict[tuple, dict[str, int]] = defaultdict(lambda: {"pending": 0, "available": 0})

    def add(rows, slot, sign=1):
        for merchant_id, currency, livemode, total in rows:
            expected[(merchant_id, currency, bool(livemode))][slot] += sign * int(total or 0)

    add(_rows("SELECT p.merchant_id, p.currency, p.livemode, SUM(p.amount_captured - p.fee) "  # noqa: S608
              f"FROM payments_payment p WHERE p.amount_captured > 0 AND {_UNSETTLED.format(item='p')} "
              "GROUP BY 1, 2, 3"), "pending")
    add(_rows("SELECT r.merchant_id, r.currency, r.livemode, SUM(r.amount) FROM payments_refund r "  # noqa: S608
              f"WHERE r.funded_from = 'pending' AND r.status <> 'failed' AND {_UNSETTLED.format(item='r')} "
              "GROUP BY 1, 2, 3"), "pending", -1)
    add(_rows("SELECT s.merchant_id, s.currency, s.livemode, SUM(s.carried_forward) FROM payments_settlement s "
              "WHERE s.carried_forward < 0 AND NOT EXISTS (SELECT 1 FROM payments_settlement n "
              "WHERE n.carried_from_id = s.id) GROUP BY 1, 2, 3"), "pending")
    add(_rows("SELECT s.merchant_id, s.currency, s.livemode, SUM(s.total) FROM payments_settlement s "
              "WHERE s.total > 0 GROUP BY 1, 2, 3"), "available")
    add(_rows("SELECT o.merchant_id, o.currency, o.livemode, SUM(o.amount) FROM payments_payout o "
              "WHERE o.status <> 'failed' GROUP BY 1, 2, 3"), "available", -1)
    add(_rows("SELECT r.merchant_id, r.currency, r.livemode, SUM(r.amount) FROM payments_refund r "
              "WHERE r.funded_from = 'available' AND r.status <> 'failed' GROUP BY 1, 2, 3"), "available", -1)
    for merchant_id, currency, livemode, purpose, balance in _rows(
            "SELECT merchant_id, currency, livemode, purpose, balance FROM ledger_account "
            "WHERE merchant_id IS NOT NULL"):
        slot = "pending" if purpose == AccountPurpose.MERCHANT_PENDING else "available"
        expected[(merchant_id, currency, bool(livemode))][slot] -= balance
    return [f"merchant {m} {c} {'live' if lm else 'test'}: {slot} balance is off by {-diff} from the records"
            for (m, c, lm), slots in expected.items() for slot, diff in slots.items() if diff != 0]


def verify_all(*, record: bool = True) -> list[str]:
    """Run every check; record the run (admin) and log loudly on a break. Returns the problems."""
    problems = ledger_selectors.ledger_problems() + payment_problems() + issuing_selectors.issuing_problems()
    checked = {name: _rows(f"SELECT COUNT(*) FROM {table}")[0][0] for name, table in (  # noqa: S608
        ("entries", "ledger_journalentry"), ("postings", "ledger_posting"), ("accounts", "ledger_account"),
        ("payments", "payments_payment"), ("settlements", "payments_settlement"))}
    if record:
        ledger_services.verification_record(problems=problems, checked=checked)
    return problems
