"""Reads of the ledger: balances, balance transactions, and the invariant checks."""

from __future__ import annotations

from django.db import connection
from django.db.models import BigIntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .constants import DEBIT_NORMAL, AccountPurpose
from .models import Account, JournalEntry

MERCHANT_BALANCE_TYPES = ("payment", "refund", "refund_failure", "settlement", "payout", "payout_failure")


def balances_for_merchant(*, merchant_id: str, livemode: bool) -> dict[str, dict[str, int]]:
    """{currency: {"available": n, "pending": n}} from the cached balances."""
    out: dict[str, dict[str, int]] = {}
    rows = Account.objects.filter(
        merchant_id=merchant_id, livemode=livemode,
        purpose__in=[AccountPurpose.MERCHANT_AVAILABLE, AccountPurpose.MERCHANT_PENDING],
    ).values_list("currency", "purpose", "balance")
    for currency, purpose, balance in rows:
        slot = out.setdefault(currency, {"available": 0, "pending": 0})
        slot["available" if purpose == AccountPurpose.MERCHANT_AVAILABLE else "pending"] = balance
    return out


def account_balance(*, purpose: str, currency: str, livemode: bool, merchant_id: str | None = None,
                    holder: str = "") -> int:
    """On the account's normal side. Merchant and holder accounts: the cached balance; platform accounts
    keep none (they would be a lock every capture waits for): the sum of their postings."""
    account = Account.objects.filter(purpose=purpose, currency=currency, livemode=livemode,
                                     merchant_id=merchant_id, holder=holder).first()
    if account is None:
        return 0
    return account.balance if account.owned else posted_balance(account)


def holder_balance_subquery(*, purpose: str, holder_field: str):
    """An expression for querysets of another app: the cached balance of the `purpose` account whose holder
    is the row's `holder_field` (0 when it has none yet). Lets a list show balances in its one query."""
    balance = Account.objects.filter(holder=OuterRef(holder_field), purpose=purpose).values("balance")[:1]
    return Coalesce(Subquery(balance, output_field=BigIntegerField()), Value(0))


def holder_balances(*, holders: list[str]) -> dict[str, dict[str, int]]:
    """{holder: {purpose: cached balance}} for holder-owned accounts (card accounts), in one query."""
    out: dict[str, dict[str, int]] = {h: {} for h in holders}
    for holder, purpose, balance in Account.objects.filter(holder__in=holders).values_list(
            "holder", "purpose", "balance"):
        out[holder][purpose] = balance
    return out


def posted_balance(account: Account) -> int:
    total = account.postings.aggregate(s=Sum("amount"))["s"] or 0
    return total if account.type in DEBIT_NORMAL else -total


def entries_for_merchant(*, merchant_id: str, livemode: bool, type: str | None = None, source: str | None = None):
    qs = JournalEntry.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if type:
        qs = qs.filter(type=type)
    if source:
        qs = qs.filter(source=source)
    return qs


def entry_for_key(key: str) -> JournalEntry | None:
    return JournalEntry.objects.filter(key=key).first()


# --- Invariants ----------------------------------------------------------------------------------


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ledger_problems(limit: int = 50) -> list[str]:
    """Every broken ledger invariant, as readable lines (empty when all is well)."""
    problems = []
    for entry_id, currency, total in _rows(
        "SELECT entry_id, currency, SUM(amount) FROM ledger_posting GROUP BY entry_id, currency "
        "HAVING SUM(amount) <> 0 LIMIT %s", [limit]):
        problems.append(f"entry {entry_id} does not balance in {currency}: postings sum to {total}")
    for entry_id, in _rows(
        "SELECT e.id FROM ledger_journalentry e WHERE NOT EXISTS "
        "(SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id) LIMIT %s", [limit]):
        problems.append(f"entry {entry_id} has no postings")
    debit_types = tuple(str(t) for t in DEBIT_NORMAL)
    for account_id, purpose, cached, actual in _rows(
        "SELECT a.id, a.purpose, a.balance, COALESCE(SUM(CASE WHEN a.type IN (%s, %s) THEN p.amount "
        "ELSE -p.amount END), 0) FROM ledger_account a LEFT JOIN ledger_posting p ON p.account_id = a.id "
        "WHERE (a.merchant_id IS NOT NULL OR a.holder <> '') "
        "GROUP BY a.id, a.purpose, a.balance HAVING a.balance <> COALESCE(SUM(CASE WHEN a.type IN (%s, %s) "
        "THEN p.amount ELSE -p.amount END), 0) LIMIT %s", [*debit_types, *debit_types, limit]):
        problems.append(f"account {account_id} ({purpose}): cached balance {cached} != sum of postings {actual}")
    for account_id, purpose, actual in _rows(
        "SELECT a.id, a.purpose, SUM(CASE WHEN a.type IN (%s, %s) THEN p.amount ELSE -p.amount END) "
        "FROM ledger_account a JOIN ledger_posting p ON p.account_id = a.id "
        "WHERE a.merchant_id IS NULL AND a.holder = '' AND a.allow_negative = %s GROUP BY a.id, a.purpose "
        "HAVING SUM(CASE WHEN a.type IN (%s, %s) THEN p.amount ELSE -p.amount END) < 0 LIMIT %s",
        [*debit_types, False, *debit_types, limit]):
        problems.append(f"account {account_id} ({purpose}) is negative: {actual}")
    for account_id, purpose, balance in _rows(
        "SELECT id, purpose, balance FROM ledger_account WHERE allow_negative = %s AND balance < 0 LIMIT %s",
        [False, limit]):
        problems.append(f"account {account_id} ({purpose}) is negative: {balance}")
    for posting_id, entry_id in _rows(
        "SELECT p.id, p.entry_id FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
        "JOIN ledger_journalentry e ON e.id = p.entry_id WHERE a.currency <> p.currency OR e.currency <> p.currency "
        "OR a.livemode <> e.livemode LIMIT %s", [limit]):
        problems.append(f"posting {posting_id} of {entry_id}: currency or mode differs from its account or entry")
    return problems
