from .models import Payment, Refund


def payments_for_merchant(*, merchant_id: str, livemode: bool, status: str | None = None, created_gte=None,
                          created_lte=None):
    qs = Payment.objects.filter(merchant_id=merchant_id, livemode=livemode).select_related("card", "risk_assessment")
    if status:
        qs = qs.filter(status=status)
    if created_gte is not None:
        qs = qs.filter(created__gte=created_gte)
    if created_lte is not None:
        qs = qs.filter(created__lte=created_lte)
    return qs


def payment_get(*, merchant_id: str, livemode: bool, payment_id: str) -> Payment | None:
    return payments_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=payment_id).first()


def refunds_for_merchant(*, merchant_id: str, livemode: bool, payment_id: str | None = None):
    qs = Refund.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if payment_id:
        qs = qs.filter(payment_id=payment_id)
    return qs


def refund_get(*, merchant_id: str, livemode: bool, refund_id: str) -> Refund | None:
    return refunds_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=refund_id).first()
