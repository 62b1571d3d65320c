from celery import shared_task

from core.idempotency import purge_expired_keys
from core.request_log import purge_api_request_log as _purge_api_request_log


@shared_task(name="core.purge_expired_idempotency_keys", acks_late=True)
def purge_expired_idempotency_keys() -> int:
    return purge_expired_keys()


@shared_task(name="core.purge_api_request_log", acks_late=True)
def purge_api_request_log() -> int:
    return _purge_api_request_log()
