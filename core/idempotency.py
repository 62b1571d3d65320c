"""Idempotency-Key on every POST, after the IETF httpapi idempotency-key draft.

The first request with a key claims it (a row in `in_progress`, committed at once). When it
finishes, its response is stored and every later request with the same key and the same
request gets that response again with `Idempotent-Replayed: true`. The same key with a
different method, path or body answers 422; the same key while the first request is still
running answers 409. A 5xx is not stored: the key is released so the request can be retried.
A request that died in flight releases its key after IDEMPOTENCY_LOCK_TIMEOUT.
Keys are scoped to the API client and kept IDEMPOTENCY_KEY_TTL (24 hours by default).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.response import Response

from core.errors import IdempotencyError, ValidationError
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class _Replay(Exception):
    def __init__(self, record: IdempotencyKey):
        self.record = record


def request_fingerprint(method: str, path: str, data) -> str:
    """A keyed HMAC-SHA256 of the request: bodies may hold card data, so never a plain hash (PCI DSS)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return salted_hmac(
        "core.idempotency.request_fingerprint", f"{method}\n{path}\n{canonical}", algorithm="sha256"
    ).hexdigest()


def _validate_key(key: str) -> str:
    if not (1 <= len(key) <= 255) or not key.isprintable() or not key.isascii():
        raise ValidationError(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.", param=HEADER, code="idempotency_key_invalid"
        )
    return key


def claim_key(*, client_id: int, key: str, method: str, path: str, data) -> IdempotencyKey:
    """Claim the key for this request, or raise: replay, 409 in flight, 422 mismatch."""
    fingerprint = request_fingerprint(method, path, data)
    now = timezone.now()
    fields = {"client_id": client_id, "key": key, "fingerprint": fingerprint, "method": method, "path": path,
              "locked_at": now}
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint: a duplicate key must not break the caller's transaction
                return IdempotencyKey.objects.create(**fields)
        # Autocommit: the INSERT is a single statement that commits on its own, claimed at once for
        # every other request, with no BEGIN and COMMIT round trips around it.
        return IdempotencyKey.objects.create(**fields)
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(client_id=client_id, key=key).first()
    if existing is None:  # released (5xx) or purged between our insert and read: try once more
        return claim_key(client_id=client_id, key=key, method=method, path=path, data=data)
    if existing.fingerprint != fingerprint:
        raise IdempotencyError(
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
            code="idempotency_key_reused",
            status=422,
            param=HEADER,
        )
    if existing.status == IdempotencyKey.Status.COMPLETED:
        raise _Replay(existing)
    if existing.locked_at < now - settings.IDEMPOTENCY_LOCK_TIMEOUT:
        # The first request died in flight: take the key over, atomically.
        taken = IdempotencyKey.objects.filter(pk=existing.pk, locked_at=existing.locked_at).update(locked_at=now)
        if taken:
            existing.locked_at = now
            return existing
    raise IdempotencyError(
        "A request with this Idempotency-Key is still being processed. Retry after it has finished.",
        code="idempotency_request_in_flight",
        status=409,
        param=HEADER,
    )


def complete_key(record: IdempotencyKey, *, status: int, body) -> None:
    if status >= 500:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED,
        response_status=status,
        response_body=body,
        completed=timezone.now(),
    )


def purge_expired_keys(*, now=None) -> int:
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created__lt=now - settings.IDEMPOTENCY_KEY_TTL).delete()
    return deleted


class IdempotencyMixin:
    """For DRF views: claim the key after authentication, store the response when done."""

    _idempotency_record: IdempotencyKey | None = None
    #: The request's validated Idempotency-Key ("" when none): services store it on the objects
    #: they create, so a retry after a crash finds them instead of creating them again.
    idempotency_key: str = ""

    def initial(self, request, *args, **kwargs):
        self._idempotency_record = None
        self.idempotency_key = ""
        super().initial(request, *args, **kwargs)
        if request.method != "POST":
            return
        key = request.headers.get(HEADER)
        if key is None:
            return
        self.idempotency_key = _validate_key(key)
        self._idempotency_record = claim_key(
            client_id=request.auth.client_id,
            key=self.idempotency_key,
            method=request.method,
            path=request.path,
            data=request.data,
        )

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            response = Response(exc.record.response_body, status=exc.record.response_status)
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            complete_key(record, status=response.status_code, body=response.data)
        return super().finalize_response(request, response, *args, **kwargs)
