"""Payments: search and filter, detail with its timeline and risk verdict, refunds, CSV export."""

from __future__ import annotations

import csv
import io
import secrets

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.audit import audit_record
from core.errors import ApplicationError
from merchants import selectors as merchant_selectors
from payments import selectors
from payments import services as payment_services
from payments.constants import PaymentStatus, RefundReason, RefundStatus

from ..access import portal_view
from ..data_forms import CARD_NUMBER_MESSAGE, PaymentFilterForm, RefundForm, from_minor_units
from ..templatetags.portal_data import money
from .listing import csv_cell, keyset_page, not_found

EXPORT_BATCH = 1000
EXPORT_COLUMNS = ["id", "created", "status", "amount", "currency", "amount_captured", "amount_refunded", "fee",
                  "card_brand", "card_last4", "description", "customer_email", "failure_code", "risk_decision",
                  "risk_score"]
REFUND_TOKEN_KEY = "portal_refund_confirm"


def _without_card_numbers(request, form):
    """A GET whose filters hold a card number is sent back without them: the number is never rendered, not
    even in a link or the form (the URL it came with is not repeated either)."""
    messages.error(request, CARD_NUMBER_MESSAGE)
    params = request.GET.copy()
    for name in form.card_number_fields:
        params.pop(name, None)
    return redirect(f"{reverse('portal:payments')}?{params.urlencode()}")


def _filtered(request):
    """(form, queryset or None when the filters are invalid)."""
    ctx = request.portal
    form = PaymentFilterForm(request.GET or None, default_currency=ctx.merchant.default_currency)
    if not request.GET:
        return form, selectors.payments_search(merchant_id=ctx.merchant.pk, livemode=ctx.livemode)
    if not form.is_valid():
        return form, None
    return form, selectors.payments_search(merchant_id=ctx.merchant.pk, livemode=ctx.livemode,
                                           **form.search_kwargs())


@portal_view("view")
def payment_list(request):
    form, qs = _filtered(request)
    if form.card_number_fields:
        return _without_card_numbers(request, form)
    page = keyset_page(request, qs, prefix="pay") if qs is not None else None
    filtering = any(v for k, v in request.GET.items() if k not in ("starting_after", "ending_before"))
    return render(request, "portal/payments/list.html", {"form": form, "page": page, "filtering": filtering})


@portal_view("view")
def payment_export(request):
    """The filtered list as CSV, streamed in keyset batches: memory stays flat at any size."""
    form, qs = _filtered(request)
    if form.card_number_fields:
        return _without_card_numbers(request, form)
    if qs is None:
        messages.error(request, "Fix the filters before exporting.")
        return redirect(reverse("portal:payments") + "?" + request.GET.urlencode())

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        last = None
        while True:
            batch = qs.order_by("-pk")
            if last is not None:
                batch = batch.filter(pk__lt=last)
            batch = list(batch[:EXPORT_BATCH])
            for p in batch:
                risk = p.risk_assessment
                writer.writerow([csv_cell(v) for v in (
                    p.pk, p.created.isoformat(), p.status, p.amount, p.currency, p.amount_captured, p.amount_refunded,
                    p.fee, p.card.brand, p.card.last4, p.description, p.customer_email, p.failure_code,
                    risk.decision if risk else "", risk.score if risk else "")])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1].pk

    mode = "live" if request.portal.livemode else "test"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="payments-{mode}-'
                                       f'{timezone.now():%Y%m%d-%H%M%S}.csv"')
    return response


def _payment_or_none(request, payment_id):
    ctx = request.portal
    return selectors.payment_get(merchant_id=ctx.merchant.pk, livemode=ctx.livemode, payment_id=payment_id)


@portal_view("view")
def payment_detail(request, payment_id):
    ctx = request.portal
    payment = _payment_or_none(request, payment_id)
    if payment is None:
        return not_found(request, "No such payment in this mode.")
    refunds = list(selectors.refunds_for_merchant(merchant_id=ctx.merchant.pk, livemode=ctx.livemode,
                                                  payment_id=payment.pk).order_by("-pk"))
    timeline = merchant_selectors.events_for_objects(merchant_id=ctx.merchant.pk, livemode=ctx.livemode,
                                                     object_ids=[payment.pk, *(r.pk for r in refunds)])
    refundable = selectors.refundable_amount(payment) if payment.status == PaymentStatus.SUCCEEDED else 0
    return render(request, "portal/payments/detail.html", {
        "payment": payment, "refunds": refunds, "timeline": timeline, "refundable": refundable,
        "risk": payment.risk_assessment,
    })


@require_http_methods(["GET", "POST"])
@portal_view("refund")
def payment_refund(request, payment_id):
    """Refund in two steps: the form, then a confirmation that names the amount. The confirmation carries a
    one-time token, so a double submit refunds once. The refund goes through payments.services.refund_create,
    the service behind POST /v1/refunds."""
    ctx = request.portal
    payment = _payment_or_none(request, payment_id)
    if payment is None:
        return not_found(request, "No such payment in this mode.")
    detail_url = reverse("portal:payment_detail", args=[payment.pk])
    refundable = selectors.refundable_amount(payment) if payment.status == PaymentStatus.SUCCEEDED else 0
    if refundable <= 0:
        messages.error(request, "This payment cannot be refunded: "
                       + ("it has been refunded in full." if payment.status == PaymentStatus.SUCCEEDED
                          else f"it is {payment.get_status_display().lower()}, not succeeded."))
        return redirect(detail_url)
    initial = {"amount": from_minor_units(refundable, payment.currency)}
    form = RefundForm(request.POST or None, initial=initial, currency=payment.currency, refundable=refundable)
    context = {"payment": payment, "refundable": refundable, "form": form}
    if request.method == "GET" or not form.is_valid() or "back" in request.POST:
        if "back" in request.POST:
            form = RefundForm(initial={"amount": request.POST.get("amount", initial["amount"]),
                                       "reason": request.POST.get("reason", "")},
                              currency=payment.currency, refundable=refundable)
            context["form"] = form
        return render(request, "portal/payments/refund.html", context)
    amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
    if request.POST.get("confirm") != "yes":
        token = secrets.token_urlsafe(16)
        request.session[REFUND_TOKEN_KEY] = {"token": token, "payment": payment.pk, "amount": amount,
                                             "reason": reason}
        return render(request, "portal/payments/refund_confirm.html", {
            **context, "amount": amount, "reason": reason, "token": token,
            "reason_label": dict(RefundReason.choices).get(reason, ""), "full": amount == refundable})
    expected = request.session.pop(REFUND_TOKEN_KEY, None)
    if not expected or not secrets.compare_digest(str(expected.get("token")), request.POST.get("token", "")) \
            or expected.get("payment") != payment.pk or expected.get("amount") != amount \
            or expected.get("reason") != reason:
        messages.error(request, "This confirmation is no longer valid (already submitted, or changed). "
                                "Check the refunds below before trying again.")
        return redirect(detail_url)
    actor = f"portal:{request.user.get_username()}"
    try:
        refund = payment_services.refund_create(merchant_id=ctx.merchant.pk, livemode=ctx.livemode,
                                                payment_id=payment.pk, amount=amount, reason=reason, actor=actor)
    except ApplicationError as exc:
        messages.error(request, f"The refund was refused: {exc.message}")
        return redirect(detail_url)
    audit_record(actor=actor, action="refund.create", object_type="refund", object_id=refund.pk,
                 merchant_id=ctx.merchant.pk, data={"via": "portal", "payment": payment.pk, "amount": amount,
                                                   "status": refund.status})
    shown = money(amount, payment.currency)
    if refund.status == RefundStatus.FAILED:
        messages.error(request, f"The refund of {shown} failed ({refund.failure_code or 'processor error'}): "
                                f"nothing was taken from your balance. Refund {refund.pk}.")
    elif refund.status == RefundStatus.SUCCEEDED:
        messages.success(request, f"Refunded {shown} to the card. Refund {refund.pk}.")
    else:
        messages.success(request, f"Refund {refund.pk} of {shown} is pending: the card network has not "
                                  "answered yet.")
    return redirect(detail_url)
