from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


@shared_task(name="payments.resume_stuck_operations", acks_late=True)
def resume_stuck_operations() -> dict:
    """Finish payments and refunds whose request died between recording the intent and the answer."""
    older_than = timezone.now() - timedelta(seconds=settings.PAYMENTS_RESUME_AFTER_SECONDS)
    return services.resume_stuck_operations(older_than=older_than)
