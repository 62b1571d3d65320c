"""Helpers for the card issuing tests (#4): programs, cardholders, issued cards, their secrets."""

from __future__ import annotations

import itertools

from .. import issuing
from ..services import card_number
from ..vault import luhn_valid

_bins = itertools.count(1)


def next_bin(prefix: str = "53") -> str:
    """A fresh Mastercard BIN per call (programs' BINs are unique)."""
    return f"{prefix}{next(_bins) % 10000:04d}"


def make_program(merchant, *, livemode=True, type="prepaid", currency="EUR", bin=None, name="Test program",
                 **kwargs):
    return issuing.card_program_create(merchant_id=merchant.pk, livemode=livemode, name=name,
                                       bin=bin or next_bin(), currency=currency, type=type, **kwargs)


BILLING = {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


def make_cardholder(merchant, *, livemode=True, name="Jane Holder", **kwargs):
    kwargs.setdefault("billing", BILLING)
    return issuing.cardholder_create(merchant_id=merchant.pk, livemode=livemode, name=name,
                                     email=kwargs.pop("email", "jane@example.com"), **kwargs)


def issue_card(merchant, *, livemode=True, program=None, cardholder=None, type="virtual", fund=10_000,
               controls=None, status=None, credit_limit=None):
    """An issued card (virtual: active) on a new account of `program`, funded with `fund` minor units."""
    program = program or make_program(merchant, livemode=livemode)
    cardholder = cardholder or make_cardholder(merchant, livemode=livemode)
    card = issuing.card_issue(merchant_id=merchant.pk, livemode=livemode, cardholder_id=cardholder.pk,
                              program_id=program.pk, type=type, spending_controls=controls, status=status,
                              credit_limit=credit_limit, actor="test")
    if fund and program.type != "credit":
        issuing.card_account_fund(account_id=card.account_id, amount=fund, reference=f"initial-{card.pk}",
                                  actor="test")
    return card


def secrets_of(card) -> dict:
    """The card's number, CVC and expiry as a payer would type them (never stored by the platform)."""
    vault = card.vault_card
    number = card_number(vault)
    assert luhn_valid(number.reveal())
    return {"number": number.reveal(), "exp_month": vault.exp_month, "exp_year": vault.exp_year,
            "cvc": issuing.derive_cvc(number, exp_month=vault.exp_month, exp_year=vault.exp_year, brand=vault.brand)}


def wrong_cvc(cvc: str) -> str:
    return str((int(cvc) + 1) % 10 ** len(cvc)).zfill(len(cvc))


def set_expiry(card, *, month: int, year: int) -> None:
    """Move a card's expiry (kept on its vault record) to test expiry handling."""
    from ..models import Card

    Card.objects.filter(pk=card.vault_card_id).update(exp_month=month, exp_year=year)
    card.vault_card.refresh_from_db()
