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


@shared_task(name="payments.cancel_unreviewed_payments", acks_late=True)
def cancel_unreviewed_payments() -> int:
    """Cancel payments left in requires_review longer than RISK_REVIEW_TIMEOUT_SECONDS (issue #5)."""
    older_than = timezone.now() - timedelta(seconds=settings.RISK_REVIEW_TIMEOUT_SECONDS)
    return services.cancel_unreviewed_payments(older_than=older_than)


from .settlement_tasks import ledger_verify, payouts_send, settle  # noqa: E402, F401  (issue #3)
