"""Every write to the ledger: post a balanced entry exactly once, reverse one.

`entry_post` is the only place postings are written and cached balances change. It must run
inside the caller's transaction when the movement belongs to a state change (capture, refund,
settlement, payout): the entry commits or rolls back with it.

Concurrency: the owned accounts an entry touches (a merchant's, or a holder's: a card account of
card issuing) are locked with SELECT ... FOR UPDATE in one fixed order (ascending id), so two
entries touching the same accounts queue instead of deadlocking; the cached balance is updated under
that lock, and an account that must not go negative refuses the entry (`balance_insufficient`)
before anything is written. Platform accounts (fee revenue, scheme receivable, bank cash, payouts in
transit) are touched by every merchant's movements: they keep no cached balance and are never
locked, so they are no queue for the whole platform; their balance is the sum of their postings, and
`ledger_verify` checks the ones that must not go negative.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from core.errors import ApplicationError
from core.money import normalize_currency

from .constants import ACCOUNT_SPECS, DEBIT_NORMAL, Owner
from .models import Account, JournalEntry, Posting


class LedgerError(ApplicationError):
    code = "ledger_error"


class InsufficientBalance(LedgerError):
    code = "balance_insufficient"


@dataclass(frozen=True)
class Line:
    """One posting to be: `amount` is debit positive, credit negative."""

    purpose: str
    amount: int
    merchant_id: str | None = None
    holder: str = ""  # a card account's id (card issuing) for the card_* purposes


def _check_owner(purpose: str, merchant_id: str | None, holder: str) -> tuple[str, bool]:
    """(account type, allow_negative) of `purpose`, once its owner is checked against the account's spec."""
    account_type, owner, allow_negative = ACCOUNT_SPECS[purpose]
    if (owner == Owner.MERCHANT) != (merchant_id is not None):
        raise LedgerError(f"Account {purpose} {'needs' if owner == Owner.MERCHANT else 'takes no'} merchant.")
    if (owner == Owner.HOLDER) != bool(holder):
        raise LedgerError(f"Account {purpose} {'needs' if owner == Owner.HOLDER else 'takes no'} holder.")
    return account_type, allow_negative


def account_get_or_create(*, purpose: str, currency: str, livemode: bool, merchant_id: str | None = None,
                          holder: str = "") -> Account:
    account_type, allow_negative = _check_owner(purpose, merchant_id, holder)
    currency = normalize_currency(currency)
    lookup = {"purpose": purpose, "currency": currency, "livemode": livemode, "merchant_id": merchant_id,
              "holder": holder}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(type=account_type, allow_negative=allow_negative, **lookup)
    except IntegrityError:  # created concurrently
        return Account.objects.get(**lookup)


def _account_key(account: Account) -> tuple:
    return (account.purpose, account.merchant_id, account.holder, account.currency, account.livemode)


def _line_key(line: Line, entry: JournalEntry) -> tuple:
    return (line.purpose, line.merchant_id, line.holder, entry.currency, entry.livemode)


def _accounts_for(wanted: set[tuple], *, locked: bool = True) -> dict[tuple, Account]:
    """{(purpose, merchant_id, holder, currency, livemode): account} for `wanted`, creating accounts seen for the
    first time.

    One SELECT, then (only for accounts never seen) one INSERT ... ON CONFLICT DO NOTHING and one SELECT;
    then the owned accounts (a merchant's, a holder's) come back locked FOR UPDATE in ascending id order
    (every poster takes the same order, so no deadlock), with their current cached balance. Platform
    accounts are not locked: they hold no cached balance (see Account), so captures of different merchants
    never queue behind one another on them."""
    found = _accounts_among(wanted)
    missing = wanted - set(found)
    if missing:
        new = []
        for purpose, merchant_id, holder, currency, livemode in missing:
            account_type, allow_negative = _check_owner(purpose, merchant_id, holder)
            new.append(Account(purpose=purpose, merchant_id=merchant_id, holder=holder, currency=currency,
                               livemode=livemode, type=account_type, allow_negative=allow_negative))
        Account.objects.bulk_create(new, ignore_conflicts=True)  # one created concurrently is simply found
        found.update(_accounts_among(missing))
    owned_ids = sorted(a.pk for a in found.values() if a.owned)
    if locked and owned_ids:
        by_pk = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=owned_ids).order_by("pk")}
        found = {k: by_pk.get(a.pk, a) for k, a in found.items()}
    return found


def _accounts_among(wanted: set[tuple]) -> dict[tuple, Account]:
    """The existing accounts of `wanted` ((purpose, merchant_id, holder, currency, livemode) each), in one
    SELECT of a small superset (cheaper to build and run than one OR-ed condition per account, for hundreds
    of them)."""
    merchant_ids = {merchant_id for _, merchant_id, _, _, _ in wanted if merchant_id is not None}
    holders = {holder for _, _, holder, _, _ in wanted if holder}
    owners = []
    if merchant_ids:
        owners.append(Q(merchant_id__in=merchant_ids))
    if holders:
        owners.append(Q(holder__in=holders))
    if any(merchant_id is None and not holder for _, merchant_id, holder, _, _ in wanted):
        owners.append(Q(merchant__isnull=True, holder=""))
    owner = reduce(operator.or_, owners)
    rows = Account.objects.filter(owner, purpose__in={w[0] for w in wanted}, currency__in={w[3] for w in wanted},
                                  livemode__in={w[4] for w in wanted})
    return {key: a for a in rows if (key := _account_key(a)) in wanted}


def _signed_to_normal(account: Account, amount: int) -> int:
    return amount if account.type in DEBIT_NORMAL else -amount


def _check_lines(key: str, lines: list[Line]) -> list[Line]:
    lines = [line for line in lines if line.amount != 0]
    if len(lines) < 2:
        raise LedgerError("A journal entry needs at least two non-zero postings.")
    if sum(line.amount for line in lines) != 0:
        raise LedgerError(f"Unbalanced journal entry {key}: postings sum to {sum(line.amount for line in lines)}.")
    return lines


def _post_lines(booked: list[tuple[JournalEntry, list[Line]]]) -> None:
    """The postings of entries just inserted, and the cached balances they move, as if posted one after the
    other: every must-not-go-negative account is checked after each entry (InsufficientBalance, before
    anything more is written). Then one INSERT of every posting and one UPDATE of every balance."""
    accounts = _accounts_for({_line_key(line, entry) for entry, lines in booked for line in lines})
    locked = {a.pk: a for a in accounts.values() if a.owned}
    postings = []
    for entry, lines in booked:
        delta: dict[int, int] = defaultdict(int)
        for line in lines:
            account = accounts[_line_key(line, entry)]
            postings.append(Posting(entry=entry, account=account, amount=line.amount, currency=entry.currency))
            if account.owned:
                delta[account.pk] += line.amount
        for pk in sorted(delta):
            account = locked[pk]
            new_balance = account.balance + _signed_to_normal(account, delta[pk])
            if new_balance < 0 and not account.allow_negative:
                raise InsufficientBalance(
                    f"The {account.get_purpose_display().split(' (')[0].lower()} balance ({account.balance} "
                    f"{entry.currency}) cannot cover {abs(delta[pk])} {entry.currency}.",
                    extra={"account": account.purpose},
                )
            account.balance = new_balance
    Posting.objects.bulk_create(postings)
    ids = sorted(locked)
    if len(ids) == 1:
        Account.objects.filter(pk=ids[0]).update(balance=locked[ids[0]].balance)
    elif ids:  # one UPDATE for them all (an ORM CASE of hundreds of WHENs costs more to build than to run)
        table = connection.ops.quote_name(Account._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET balance = v.column2 FROM (VALUES "  # noqa: S608 (our table)
                           + ", ".join(["(%s, %s)"] * len(ids)) + f") AS v WHERE {table}.id = v.column1",
                           [value for pk in ids for value in (pk, locked[pk].balance)])


def entry_post(*, key: str, type: str, currency: str, livemode: bool, lines: list[Line],
               merchant_id: str | None = None, source: str = "", amount: int = 0, fee: int = 0,
               reverses: JournalEntry | None = None, description: str = "") -> JournalEntry:
    """Post a balanced entry exactly once per `key` (a second call returns the first entry).

    Raises LedgerError if the lines do not balance, InsufficientBalance if an account that must
    not go negative would.
    """
    currency = normalize_currency(currency)
    lines = _check_lines(key, lines)
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    key=key, type=type, currency=currency, livemode=livemode, merchant_id=merchant_id, source=source,
                    amount=amount, fee=fee, net=amount - fee, reverses=reverses, description=description[:200])
        except IntegrityError:  # this key was posted already (a retry, or concurrently): that one is the entry
            return JournalEntry.objects.get(key=key)
        _post_lines([(entry, lines)])
    return entry


@dataclass(frozen=True)
class NewEntry:
    """The arguments of one `entry_post`, for `entries_post`."""

    key: str
    type: str
    currency: str
    livemode: bool
    lines: list[Line]
    merchant_id: str | None = None
    source: str = ""
    amount: int = 0
    fee: int = 0
    description: str = ""


def entries_post(*, entries: list[NewEntry]) -> list[JournalEntry]:
    """`entry_post` for many entries, in order, with the same guarantees, in a fixed number of statements
    (one INSERT of the entries, the accounts, one INSERT of the postings, one UPDATE of the balances)
    whatever their number: a settlement run posts two per merchant.

    All or nothing: if one entry would take an account below zero, nothing is posted. If a key was
    posted already, each entry goes through `entry_post` in turn (which keeps the first posting)."""
    checked = [(spec, normalize_currency(spec.currency), _check_lines(spec.key, spec.lines)) for spec in entries]
    if not checked:
        return []
    with transaction.atomic():
        rows = [JournalEntry(key=spec.key, type=spec.type, currency=currency, livemode=spec.livemode,
                             merchant_id=spec.merchant_id, source=spec.source, amount=spec.amount, fee=spec.fee,
                             net=spec.amount - spec.fee, description=spec.description[:200])
                for spec, currency, _ in checked]
        try:
            with transaction.atomic():
                JournalEntry.objects.bulk_create(rows)
        except IntegrityError:  # a key posted already: one by one, each keeps its first posting
            return [entry_post(key=spec.key, type=spec.type, currency=spec.currency, livemode=spec.livemode,
                               lines=spec.lines, merchant_id=spec.merchant_id, source=spec.source,
                               amount=spec.amount, fee=spec.fee, description=spec.description)
                    for spec in entries]
        _post_lines([(row, lines) for row, (_, _, lines) in zip(rows, checked, strict=True)])
    return rows


def entry_reverse(*, entry: JournalEntry, key: str, type: str, description: str = "") -> JournalEntry:
    """Post the mirror image of `entry` (every posting negated), exactly once per `key`."""
    postings = list(entry.postings.select_related("account"))
    lines = [Line(purpose=p.account.purpose, amount=-p.amount, merchant_id=p.account.merchant_id,
                  holder=p.account.holder) for p in postings]
    return entry_post(key=key, type=type, currency=entry.currency, livemode=entry.livemode, lines=lines,
                      merchant_id=entry.merchant_id, source=entry.source, amount=-entry.amount, fee=-entry.fee,
                      reverses=entry, description=description or f"Reverses {entry.id}")


def verification_record(*, problems: list[str], checked: dict):
    """Store one run of the invariant checks (shown in the admin) and log a break loudly."""
    import logging

    from .models import VerificationRun

    logger = logging.getLogger("ledger.verify")
    run = VerificationRun.objects.create(ok=not problems, problems=problems[:200], checked=checked)
    if problems:
        logger.error("LEDGER INVARIANTS BROKEN (%d): %s", len(problems), "; ".join(problems[:20]))
    else:
        logger.info("ledger verified: %s", checked)
    return run


def entry_get(*, key: str) -> JournalEntry | None:
    return JournalEntry.objects.filter(key=key).first()
