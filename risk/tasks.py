from celery import shared_task

from . import services


@shared_task(name="risk.purge_velocity_events", acks_late=True)
def purge_velocity_events() -> int:
    """Delete database velocity rows older than the longest window."""
    return services.velocity_purge()
