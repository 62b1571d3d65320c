from celery import shared_task
from django.core.management import call_command


@shared_task(name="merchants.clear_expired_tokens", acks_late=True)
def clear_expired_tokens() -> None:
    """Delete expired OAuth2 tokens and grants (django-oauth-toolkit's cleartokens)."""
    call_command("cleartokens")


@shared_task(name="merchants.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt at a webhook delivery (no-op unless it is pending and due)."""
    from . import services

    services.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="merchants.purge_events", acks_late=True, ignore_result=True)
def purge_events() -> int:
    """Delete events (and their deliveries) older than EVENT_RETENTION_DAYS."""
    from . import services

    return services.events_purge()


@shared_task(name="merchants.sweep_webhook_deliveries", acks_late=True, ignore_result=True)
def sweep_webhook_deliveries() -> int:
    """Re-enqueue overdue deliveries: the outbox, not the broker, is the source of truth."""
    from . import services

    return services.webhook_deliveries_sweep()
