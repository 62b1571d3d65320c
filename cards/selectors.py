from .models import Card


def cards_for_merchant(*, merchant_id: str, livemode: bool):
    return Card.objects.filter(merchant_id=merchant_id, livemode=livemode, reusable=True, deleted_at__isnull=True)


def card_get_usable(*, merchant_id: str, livemode: bool, card_id: str) -> Card | None:
    """A tokenized card this merchant may charge, or None (another merchant's card is None too)."""
    return cards_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=card_id).first()
