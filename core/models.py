from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from core.ids import ID_MAX_LENGTH, id_factory


class IdempotencyKey(models.Model):
    """A POST's Idempotency-Key, scoped to the API client, and the response it produced."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    client_id = models.BigIntegerField(help_text="merchants.ApiClient pk (no FK: core is the bottom layer)")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and canonical JSON body")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    locked_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_id", "key"], name="idempotency_key_unique_per_client")]

    def __str__(self):
        return f"{self.key} ({self.status})"


class AuditLogEntry(models.Model):
    """Append-only record of sensitive actions (staff actions, card-detail reads, ...)."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("audit"), editable=False)
    actor = models.CharField(max_length=200, help_text="staff:<username>, client:<client id>, system")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, db_index=True)
    merchant_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "audit log entries"

    def __str__(self):
        return f"{self.actor} {self.action} {self.object_type} {self.object_id}"


class ApiRequestLog(models.Model):
    """One /v1/ call of a merchant's API client, for the merchant portal's request log.

    Written after the response (core.request_log); never a body, a header or a query string. The id
    is the request's own id (`req_...`, time-ordered), so the newest-first list per merchant and the
    retention purge both walk an index. Plain ids, no foreign keys: core is the bottom layer.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, help_text="The request id (Request-Id)")
    merchant_id = models.CharField(max_length=ID_MAX_LENGTH, help_text="merchants.Merchant id acted for")
    livemode = models.BooleanField(default=False)
    client_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True, help_text="merchants.ApiClient public id")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255, help_text="Without the query string")
    status_code = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField(help_text="Time spent in the application, in milliseconds")
    idempotency_key = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["merchant_id", "livemode", "-id"], name="api_request_log_merchant")]

    def __str__(self):
        return f"{self.id} {self.method} {self.path} {self.status_code}"
