"""Reads of card issuing (#4): a partner's cardholders, cards (with their account's balances, in the
same query) and authorizations; and the issuing invariants checked by `ledger_verify`."""

from __future__ import annotations

from django.db import connection

from ledger import selectors as ledger_selectors
from ledger.constants import AccountPurpose

from .constants import AuthorizationStatus
from .issuing_models import CardAccount, Cardholder, IssuedCard, IssuingAuthorization


def cardholders_for_merchant(*, merchant_id: str, livemode: bool):
    return Cardholder.objects.filter(merchant_id=merchant_id, livemode=livemode)


def cardholder_get(*, merchant_id: str, livemode: bool, cardholder_id: str) -> Cardholder | None:
    return cardholders_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=cardholder_id).first()


def with_balances(queryset, *, account_field: str = "account_id"):
    """Annotate `available` and `held` of each row's card account (cached ledger balances)."""
    return queryset.annotate(
        account_available=ledger_selectors.holder_balance_subquery(purpose=AccountPurpose.CARD_AVAILABLE,
                                                                   holder_field=account_field),
        account_held=ledger_selectors.holder_balance_subquery(purpose=AccountPurpose.CARD_HELD,
                                                              holder_field=account_field),
    )


def issued_cards(*, merchant_id: str | None = None, livemode: bool | None = None, cardholder_id: str | None = None,
                 status: str | None = None):
    """Issued cards with their vault record (never its ciphertext), account and balances: one query."""
    qs = IssuedCard.objects.select_related("vault_card", "account").defer("vault_card__pan_ciphertext")
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id, livemode=livemode)
    if cardholder_id:
        qs = qs.filter(cardholder_id=cardholder_id)
    if status:
        qs = qs.filter(status=status)
    return with_balances(qs)


def issued_card_get(*, merchant_id: str, livemode: bool, card_id: str) -> IssuedCard | None:
    return issued_cards(merchant_id=merchant_id, livemode=livemode).filter(pk=card_id).first()


def authorizations_for_card(*, card_id: str):
    return IssuingAuthorization.objects.filter(card_id=card_id).select_related("acquiring_merchant")


def account_balances(account: CardAccount) -> dict[str, int]:
    found = ledger_selectors.holder_balances(holders=[account.id])[account.id]
    return {"available": found.get(AccountPurpose.CARD_AVAILABLE, 0), "held": found.get(AccountPurpose.CARD_HELD, 0),
            "credit_line": found.get(AccountPurpose.CARD_CREDIT_LINE, 0)}


def issuing_problems(limit: int = 50) -> list[str]:
    """Broken issuing invariants: each account's held balance equals its pending authorizations, each
    credit account's line equals its limit; captured never exceeds authorized (checked by constraints)."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, COALESCE(l.balance, 0), COALESCE(SUM(z.amount), 0) FROM cards_cardaccount a "
            "LEFT JOIN ledger_account l ON l.holder = a.id AND l.purpose = %s "
            "LEFT JOIN cards_issuingauthorization z ON z.account_id = a.id AND z.status = %s "
            "GROUP BY a.id, l.balance HAVING COALESCE(l.balance, 0) <> COALESCE(SUM(z.amount), 0) LIMIT %s",
            [AccountPurpose.CARD_HELD, AuthorizationStatus.PENDING, limit])
        for account_id, held, pending in cursor.fetchall():
            problems.append(f"card account {account_id}: held {held} != pending authorizations {pending}")
        cursor.execute(
            "SELECT a.id, a.credit_limit, COALESCE(l.balance, 0) FROM cards_cardaccount a "
            "LEFT JOIN ledger_account l ON l.holder = a.id AND l.purpose = %s "
            "WHERE a.credit_limit <> COALESCE(l.balance, 0) LIMIT %s", [AccountPurpose.CARD_CREDIT_LINE, limit])
        for account_id, credit_limit, line in cursor.fetchall():
            problems.append(f"card account {account_id}: credit limit {credit_limit} != credit line booked {line}")
    return problems
