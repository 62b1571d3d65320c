import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("payments_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Modules named other than `tasks` that hold tasks (card issuing's beat tasks, #4).
app.autodiscover_tasks(related_name="issuing_tasks")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_card_numbers(logger=None, **kwargs):
    """The worker's own log handlers redact card numbers too (PCI DSS second line of defence)."""
    from cards.log_redaction import install_pan_redaction

    if logger is not None:
        install_pan_redaction(logger)
