"""Append-only audit trail for sensitive actions."""

from core.middleware import current_request_id
from core.models import AuditLogEntry


def audit_record(*, actor: str, action: str, object_type: str, object_id: str, merchant_id: str = "",
                 data: dict | None = None) -> AuditLogEntry:
    rid = current_request_id()
    return AuditLogEntry.objects.create(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        merchant_id=merchant_id,
        data=data or {},
        request_id="" if rid == "-" else rid,
    )


def staff_actor(user) -> str:
    return f"staff:{user.get_username()}"
