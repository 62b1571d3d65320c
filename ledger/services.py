"""Every write to the ledger: post a balanced entry exactly once, reverse one.

`entry_post` is the only place postings are written and cached balances change. It must run
inside the caller's transaction when the movement belongs to a state change (capture, refund,
settlement, payout): the entry commits or rolls back with it.

Concurrency: the owned accounts an entry touches (a merchant's, or a holder's: a card account of card
issuing) are locked with SELECT ... FOR UPDATE in one
fixed order (ascending id), so two entries touching the same accounts queue instead of deadlocking;
the cached balance is updated under that lock, and an account that must not go negative refuses
the entry (`balance_insufficient`) before anything is written. Platform accounts (fee revenue,
scheme receivable, bank cash, payouts in transit) are touched by every merchant's movements: they
keep no cached balance and are never locked, so they are no queue for the whole platform; their
balance is the sum of their postings, and `ledger_verify` checks the ones that must not go negative.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, Q, Value, When

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

    @property
    def owner_key(self) -> tuple:
        return (self.purpose, self.merchant_id, self.holder)


def account_get_or_create(*, purpose: str, currency: str, livemode: bool, merchant_id: str | None = None,
                          holder: str = "") -> Account:
    account_type, owner, allow_negative = ACCOUNT_SPECS[purpose]
    if (owner == Owner.MERCHANT) != (merchant_id is not None):
        raise LedgerError(f"Account {purpose} {'needs' if owner == Owner.MERCHANT else 'takes no'} merchant.")
    if (owner == Owner.HOLDER) != bool(holder):
        raise LedgerError(f"Account {purpose} {'needs' if owner == Owner.HOLDER else 'takes no'} holder.")
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


def _accounts_for(lines: list[Line], *, currency: str, livemode: bool) -> dict[tuple, Account]:
    """{(purpose, merchant_id, holder): account} for the lines, creating accounts seen for the first time.

    Owned accounts (a merchant's, a holder's) come back locked FOR UPDATE in ascending id order (every
    poster takes the same order, so no deadlock), with their current cached balance. Platform accounts
    are not locked: they hold no cached balance (see Account), so captures of different merchants never
    queue behind one another on them."""
    wanted = {line.owner_key for line in lines}
    query = Q()
    for purpose, merchant_id, holder in wanted:
        query |= Q(purpose=purpose, merchant_id=merchant_id, holder=holder)
    found = {(a.purpose, a.merchant_id, a.holder): a
             for a in Account.objects.filter(query, currency=currency, livemode=livemode)}
    for purpose, merchant_id, holder in wanted - set(found):
        found[(purpose, merchant_id, holder)] = account_get_or_create(
            purpose=purpose, currency=currency, livemode=livemode, merchant_id=merchant_id, holder=holder)
    owned_ids = sorted(a.pk for a in found.values() if a.owned)
    if owned_ids:
        locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=owned_ids).order_by("pk")}
        found = {k: locked.get(a.pk, a) for k, a in found.items()}
    return found


def _signed_to_normal(account: Account, amount: int) -> int:
    return amount if account.type in DEBIT_NORMAL else -amount


def entry_post(*, key: str, type: str, currency: str, livemode: bool, lines: list[Line],
               merchant_id: str | None = None, source: str = "", amount: int = 0, fee: int = 0,
               reverses: JournalEntry | None = None, description: str = "") -> JournalEntry:
    """Post a balanced entry exactly once per `key` (a second call returns the first entry).

    Raises LedgerError if the lines do not balance, InsufficientBalance if an account that must
    not go negative would.
    """
    currency = normalize_currency(currency)
    lines = [line for line in lines if line.amount != 0]
    if len(lines) < 2:
        raise LedgerError("A journal entry needs at least two non-zero postings.")
    if sum(line.amount for line in lines) != 0:
        raise LedgerError(f"Unbalanced journal entry {key}: postings sum to {sum(line.amount for line in lines)}.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    key=key, type=type, currency=currency, livemode=livemode, merchant_id=merchant_id, source=source,
                    amount=amount, fee=fee, net=amount - fee, reverses=reverses, description=description[:200])
        except IntegrityError:  # this key was posted already (a retry, or concurrently): that one is the entry
            return JournalEntry.objects.get(key=key)
        accounts = _accounts_for(lines, currency=currency, livemode=livemode)
        locked = {a.pk: a for a in accounts.values() if a.owned}
        ids = sorted(locked)
        delta: dict[int, int] = defaultdict(int)
        for line in lines:
            account = accounts[line.owner_key]
            if account.owned:
                delta[account.pk] += line.amount
        for pk in ids:
            account = locked[pk]
            new_balance = account.balance + _signed_to_normal(account, delta[pk])
            if new_balance < 0 and not account.allow_negative:
                raise InsufficientBalance(
                    f"The {account.get_purpose_display().split(' (')[0].lower()} balance ({account.balance} "
                    f"{currency}) cannot cover {abs(delta[pk])} {currency}.",
                    extra={"account": account.purpose},
                )
            account.balance = new_balance
        Posting.objects.bulk_create([
            Posting(entry=entry, account=accounts[line.owner_key], amount=line.amount,
                    currency=currency)
            for line in lines
        ])
        if ids:
            Account.objects.filter(pk__in=ids).update(balance=Case(
                *[When(pk=pk, then=Value(locked[pk].balance)) for pk in ids], output_field=BigIntegerField()))
    return entry


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
