from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import rotation


@shared_task(name="cards.rotate_card_keys", acks_late=True, autoretry_for=(OperationalError, InterfaceError),
             max_retries=5, retry_backoff=True, retry_backoff_max=300, retry_jitter=True)
def rotate_card_keys(table: str = "cards.card", after: str | int | None = None, batch_size: int | None = None,
                     batches: int | None = None) -> dict:
    """Re-encrypt up to `batches` batches of `table` after the primary key `after`, then enqueue the next
    message from where this one stopped. Safe to deliver twice or to run beside itself (see cards/rotation.py).
    Arguments and result hold a table name, a primary key and counts: never card data."""
    batch_size = settings.CARD_KEY_ROTATION_BATCH_SIZE if batch_size is None else batch_size
    batches = settings.CARD_KEY_ROTATION_BATCHES_PER_TASK if batches is None else batches
    result = rotation.rotate_table(table=table, after=after, batch_size=batch_size, max_batches=batches)
    if not result.done:
        rotate_card_keys.apply_async(kwargs={"table": result.table, "after": result.cursor,
                                             "batch_size": batch_size, "batches": batches})
    return result.as_dict()


def rotate_card_keys_start() -> list[str]:
    """Enqueue the job for every encrypted-PAN table, from the beginning. Returns the table names."""
    tables = sorted(rotation.ENCRYPTED_PAN_TABLES)
    for table in tables:
        rotate_card_keys.apply_async(kwargs={"table": table})
    return tables
