from .models import ApiClient, Merchant


def merchant_get(*, merchant_id: str) -> Merchant | None:
    return Merchant.objects.filter(pk=merchant_id).first()


def api_clients_for_merchant(*, merchant_id: str):
    return ApiClient.objects.filter(merchant_id=merchant_id).order_by("-created")
