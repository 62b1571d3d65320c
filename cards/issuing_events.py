"""Webhook events of card issuing (#4), published to the card program's partner merchant in the card's
mode through the events outbox (merchants.services.event_publish): call these in the transaction of the
change, after it is written. `data` is the object as the issuing API returns it; it never holds the card
number or the CVC (the representations have neither)."""

from __future__ import annotations

from merchants.services import event_publish

from .issuing_models import CardAccount, Cardholder, IssuingAuthorization
from .issuing_representations import authorization_representation, card_representation, cardholder_representation
from .issuing_selectors import issued_cards

CARDHOLDER_CREATED = "issuing_cardholder.created"
CARD_CREATED = "issuing_card.created"
CARD_UPDATED = "issuing_card.updated"
AUTHORIZATION_CREATED = "issuing_authorization.created"
AUTHORIZATION_UPDATED = "issuing_authorization.updated"


def publish_cardholder(holder: Cardholder, event_type: str) -> None:
    event_publish(merchant_id=holder.merchant_id, livemode=holder.livemode, type=event_type,
                  object_type="issuing.cardholder", object_id=holder.id, data=cardholder_representation(holder))


def publish_card(card_id: str, event_type: str) -> None:
    """The card read back as GET shows it (status, controls, its account's balances), then published."""
    card = issued_cards().get(pk=card_id)
    event_publish(merchant_id=card.merchant_id, livemode=card.livemode, type=event_type,
                  object_type="issuing.card", object_id=card.id, data=card_representation(card))


def publish_authorization(auth: IssuingAuthorization, event_type: str, *, merchant_id: str | None = None) -> None:
    """`merchant_id`: the partner (the card's merchant), when the caller has it at hand."""
    if merchant_id is None:
        merchant_id = CardAccount.objects.values_list("merchant_id", flat=True).get(pk=auth.account_id)
    event_publish(merchant_id=merchant_id, livemode=auth.livemode, type=event_type,
                  object_type="issuing.authorization", object_id=auth.id, data=authorization_representation(auth))
