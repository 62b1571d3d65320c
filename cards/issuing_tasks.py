"""Celery beat tasks of card issuing (#4): thin, idempotent (they act on what is due, guarded by the
status transitions), no card data in arguments or results."""

from celery import shared_task

from . import authorization, issuing


@shared_task(name="cards.issuing_expire_holds", acks_late=True)
def issuing_expire_holds() -> int:
    """Release the holds of authorizations not captured within ISSUING_HOLD_DAYS."""
    return authorization.authorizations_expire_due()


@shared_task(name="cards.issuing_expire_cards", acks_late=True)
def issuing_expire_cards() -> int:
    """Mark cards past their expiry month `expired`."""
    return issuing.cards_expire_due()
