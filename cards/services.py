"""Every write to the card vault."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import NotFound

from .models import Card
from .vault import CardNumber, CheckedCard, check_card, decrypt_pan, encrypt_pan, fingerprint


def card_vault(*, merchant_id: str, livemode: bool, card: CheckedCard, reusable: bool) -> Card:
    """Store a checked card: ciphertext, key version, fingerprint, BIN and last 4. Never the CVC."""
    record = Card(
        merchant_id=merchant_id,
        livemode=livemode,
        brand=card.brand,
        bin=card.number.bin,
        last4=card.number.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        name=card.name,
        fingerprint=fingerprint(card.number),
        reusable=reusable,
    )
    record.pan_ciphertext, record.key_version = encrypt_pan(card.number, record_id=record.id)
    record.save(force_insert=True)
    return record


def card_tokenize(*, merchant_id: str, livemode: bool, number, exp_month, exp_year, cvc=None,
                  name: str = "") -> Card:
    """Check and vault a card for later payments (`card_...` token)."""
    checked = check_card(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc, name=name,
                         param_prefix="")
    return card_vault(merchant_id=merchant_id, livemode=livemode, card=checked, reusable=True)


@transaction.atomic
def card_delete(*, merchant_id: str, livemode: bool, card_id: str) -> Card:
    """Destroy the card's ciphertext. Payments keep brand, BIN and last 4 for their history."""
    card = (
        Card.objects.select_for_update()
        .filter(pk=card_id, merchant_id=merchant_id, livemode=livemode, reusable=True, deleted_at__isnull=True)
        .first()
    )
    if card is None:
        raise NotFound("No such card.", param="id")
    card.pan_ciphertext = None
    card.key_version = None
    card.deleted_at = timezone.now()
    card.save(update_fields=["pan_ciphertext", "key_version", "deleted_at"])
    return card


def card_number(card: Card) -> CardNumber:
    """The PAN in memory, for a processor. Never log, queue or return it."""
    return decrypt_pan(card.pan_ciphertext, key_version=card.key_version, record_id=card.id)
