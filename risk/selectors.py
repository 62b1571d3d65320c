from .models import Assessment, ListEntry


def assessments_for_merchant(*, merchant_id: str, livemode: bool, payment_id: str | None = None):
    qs = Assessment.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if payment_id:
        qs = qs.filter(payment_id=payment_id)
    return qs


def assessment_get(*, merchant_id: str, livemode: bool, assessment_id: str) -> Assessment | None:
    return assessments_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=assessment_id).first()


def block_list_for_merchant(*, merchant_id: str, livemode: bool):
    """The merchant's own block list entries in this mode (staff-wide entries are not shown)."""
    return ListEntry.objects.filter(merchant_id=merchant_id, livemode=livemode, action="block")
