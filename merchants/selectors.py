from .models import ApiClient, Event, Merchant, MerchantNotice, WebhookEndpoint


def merchant_get(*, merchant_id: str) -> Merchant | None:
    return Merchant.objects.filter(pk=merchant_id).first()


def merchant_payout_ibans(*, merchant_ids) -> dict[str, str]:
    """{merchant id: payout IBAN} for many merchants in one query."""
    return dict(Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "payout_iban"))


def api_clients_for_merchant(*, merchant_id: str):
    return ApiClient.objects.filter(merchant_id=merchant_id).order_by("-created")


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
