from django.db.models import Prefetch, Q

from .constants import DeliveryStatus, WebhookEndpointStatus
from .models import ApiClient, Event, Merchant, MerchantNotice, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def merchant_get(*, merchant_id: str) -> Merchant | None:
    return Merchant.objects.filter(pk=merchant_id).first()


def merchant_payout_ibans(*, merchant_ids) -> dict[str, str]:
    """{merchant id: payout IBAN} for many merchants in one query."""
    return dict(Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "payout_iban"))


def api_clients_for_merchant(*, merchant_id: str):
    return ApiClient.objects.filter(merchant_id=merchant_id).order_by("-created")


def api_client_by_client_id(*, client_id: str) -> ApiClient | None:
    return ApiClient.objects.filter(client_id=client_id).first()


def events_for_merchant(*, merchant_id: str, livemode: bool, type: str | None = None, object_id: str | None = None,
                        created_gte=None, created_lte=None):
    qs = Event.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if type:
        qs = qs.filter(type=type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if created_gte is not None:
        qs = qs.filter(created__gte=created_gte)
    if created_lte is not None:
        qs = qs.filter(created__lte=created_lte)
    return qs


def event_get(*, merchant_id: str, livemode: bool, event_id: str):
    return events_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=event_id).first()


def webhook_endpoints_for_merchant(*, merchant_id: str, livemode: bool):
    return WebhookEndpoint.objects.filter(merchant_id=merchant_id, livemode=livemode)


def webhook_endpoint_get(*, merchant_id: str, livemode: bool, endpoint_id: str):
    return webhook_endpoints_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=endpoint_id).first()


def merchant_notices(*, merchant_id: str, unread_only: bool = False):
    qs = MerchantNotice.objects.filter(merchant_id=merchant_id)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def events_for_objects(*, merchant_id: str, livemode: bool, object_ids):
    """The events of these objects (a payment and its refunds, say), oldest first: a timeline."""
    return events_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(
        object_id__in=list(object_ids)).order_by("created", "id")


def webhook_deliveries_for_endpoint(*, endpoint_id: str, status: str | None = None):
    """The endpoint's deliveries with their event and every attempt (two queries per page, whatever its
    size). List them by `event_id`, newest first: index webhook_delivery_endpoint_list."""
    qs = (WebhookDelivery.objects.filter(endpoint_id=endpoint_id).select_related("event")
          .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("created", "id"))))
    return qs.filter(status=status) if status else qs


def webhook_attention(*, merchant_id: str, livemode: bool, since) -> dict:
    """What needs the merchant's attention in its webhooks: endpoints disabled or failing, and how many
    deliveries failed for good (every retry spent, or 410 Gone) since `since`. Two queries."""
    endpoints = list(webhook_endpoints_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(
        Q(status=WebhookEndpointStatus.DISABLED) | Q(failing_since__isnull=False)).order_by("-id"))
    failed = WebhookDelivery.objects.filter(
        endpoint__merchant_id=merchant_id, endpoint__livemode=livemode, status=DeliveryStatus.FAILED,
        updated__gte=since).count()
    return {
        "disabled_endpoints": [e for e in endpoints if e.status == WebhookEndpointStatus.DISABLED],
        "failing_endpoints": [e for e in endpoints if e.status == WebhookEndpointStatus.ENABLED],
        "failed_deliveries": failed,
    }
