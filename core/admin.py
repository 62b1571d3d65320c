"""Back office (Django admin) for what core stores, and what every app's admin shares.

- `ReadOnlyAdmin`: a record that staff may look at but never add, change or delete here.
- `ReadOnlyInline`: the same, as an inline.
- `run_service_action`: the body of every admin action. It calls a service once per selected
  object, reports successes and per-object errors with `message_user`, and writes an audit
  entry for every attempt. Actions never assign fields themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages

from core.audit import audit_record, staff_actor
from core.errors import ApplicationError
from core.models import ApiRequestLog, AuditLogEntry, IdempotencyKey
from core.money import CurrencyError, Money


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only in the admin: no add, no change, no delete (actions may still call services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def money_display(amount, currency) -> str:
    """`12.50 EUR` from minor units; the raw figures if the currency is unknown."""
    if amount is None:
        return "-"
    try:
        return str(Money(int(amount), currency))
    except (CurrencyError, TypeError, ValueError):
        return f"{amount} {currency} (minor units)"


def run_service_action(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    action: str,
    object_type: str,
    call: Callable,
    done_message: str,
    merchant_id_of: Callable = lambda obj: getattr(obj, "merchant_id", "") or "",
    id_of: Callable = lambda obj: str(obj.pk),
) -> tuple[list[str], list[str]]:
    """Run `call(obj, actor)` (which calls one service) for each selected object.

    Every attempt is audited (`action`, with `ok` and the error code in `data`). Successes are
    reported in one message, each failure in its own error message. Returns the ids (done, failed).
    """
    actor = staff_actor(request.user)
    done, failed = [], []
    for obj in queryset:
        object_id, merchant_id = id_of(obj), merchant_id_of(obj)
        try:
            call(obj, actor)
        except ApplicationError as exc:
            failed.append(object_id)
            audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                         merchant_id=merchant_id,
                         data={"via": "admin", "ok": False, "code": exc.code, "message": exc.message})
            modeladmin.message_user(request, f"{object_id}: {exc.message} ({exc.code})", level=messages.ERROR)
        else:
            done.append(object_id)
            audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                         merchant_id=merchant_id, data={"via": "admin", "ok": True})
    if done:
        modeladmin.message_user(request, f"{done_message}: {len(done)} ({', '.join(done)}).", level=messages.SUCCESS)
    return done, failed


# --- Core's own models ----------------------------------------------------------------------------


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ("key", "client_id", "method", "path", "status", "response_status", "created", "completed")
    list_filter = ("status", "method", "response_status", "created")
    search_fields = ("=key", "=client_id", "path")
    date_hierarchy = "created"
    ordering = ("-created",)
    fields = ("client_id", "key", "method", "path", "fingerprint", "status", "locked_at", "response_status",
              "response_body", "created", "completed")
    readonly_fields = fields


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("created", "actor", "action", "object_type", "object_id", "merchant_id", "request_id")
    list_filter = ("action", "object_type", "created")
    search_fields = ("^id", "=object_id", "=merchant_id", "actor", "=request_id")
    date_hierarchy = "created"
    fields = ("id", "created", "actor", "action", "object_type", "object_id", "merchant_id", "data", "request_id")
    readonly_fields = fields


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "created", "merchant_id", "livemode", "client_id", "method", "path", "status_code",
                    "latency_ms")
    list_filter = ("livemode", "method", "status_code")
    search_fields = ("=id", "=merchant_id", "=client_id", "=idempotency_key")
    fields = ("id", "created", "merchant_id", "livemode", "client_id", "method", "path", "status_code",
              "latency_ms", "idempotency_key")
    readonly_fields = fields
