from datetime import date, datetime

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from .constants import PaymentStatus, RefundStatus
from .models import Payment, PaymentEvent, Refund

# A payment the card network accepted: captured, or authorized and waiting for its capture.
SUCCESSFUL_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REQUIRES_CAPTURE)


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


def payments_search(*, merchant_id: str, livemode: bool, status: str | None = None, created_gte=None,
                    created_lte=None, currency: str | None = None, amount_gte: int | None = None,
                    amount_lte: int | None = None, last4: str | None = None, payment_id: str | None = None):
    """payments_for_merchant, also by currency, amount range (minor units), card last 4 and id (a payment's,
    or one of its refunds')."""
    qs = payments_for_merchant(merchant_id=merchant_id, livemode=livemode, status=status, created_gte=created_gte,
                               created_lte=created_lte)
    if currency:
        qs = qs.filter(currency=currency)
    if amount_gte is not None:
        qs = qs.filter(amount__gte=amount_gte)
    if amount_lte is not None:
        qs = qs.filter(amount__lte=amount_lte)
    if last4:
        qs = qs.filter(card__last4=last4)
    if payment_id:
        qs = qs.filter(refunds__pk=payment_id) if payment_id.startswith("re_") else qs.filter(pk=payment_id)
    return qs


def payment_get(*, merchant_id: str, livemode: bool, payment_id: str) -> Payment | None:
    return payments_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=payment_id).first()


def payment_history(*, payment_id: str):
    """The payment's own append-only history (status changes, refunds), oldest first."""
    return PaymentEvent.objects.filter(payment_id=payment_id).order_by("id")


def payment_stats_by_day(*, merchant_id: str, livemode: bool, since: datetime) -> list[dict]:
    """One SQL aggregate: per UTC day and currency since `since`, how many payments were attempted, how many
    the card network accepted (`succeeded`) and failed, and the captured volume (minor units).

    [{"day": date, "currency": str, "count": n, "succeeded": n, "failed": n, "volume": n}, ...] by day.
    """
    rows = (Payment.objects.filter(merchant_id=merchant_id, livemode=livemode, created__gte=since)
            .annotate(day=TruncDate("created")).values("day", "currency")
            .annotate(count=Count("id"),
                      succeeded=Count("id", filter=Q(status__in=SUCCESSFUL_STATUSES)),
                      failed=Count("id", filter=Q(status=PaymentStatus.FAILED)),
                      volume=Sum("amount_captured", filter=Q(status=PaymentStatus.SUCCEEDED)))
            .order_by("day", "currency"))
    out = []
    for row in rows:
        day = row["day"]
        out.append({**row, "day": day if isinstance(day, date) else date.fromisoformat(str(day)),
                    "volume": row["volume"] or 0})
    return out


def refunds_for_merchant(*, merchant_id: str, livemode: bool, payment_id: str | None = None):
    qs = Refund.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if payment_id:
        qs = qs.filter(payment_id=payment_id)
    return qs


def refund_get(*, merchant_id: str, livemode: bool, refund_id: str) -> Refund | None:
    return refunds_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=refund_id).first()


def refundable_amount(payment: Payment) -> int:
    """What a refund may still take: captured, less refunded and less refunds still pending."""
    pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))["s"] or 0
    return max(payment.amount_captured - payment.amount_refunded - pending, 0)
