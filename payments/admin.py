"""Back office for payments, refunds and their event history.

Everything here is read-only: payments, refunds and events are never added, edited or deleted
in the admin. Staff act through actions that call the services (capture, cancel, refund in
full), each audited; the services lock the row, check the transition table and record events.
"""

from __future__ import annotations

from django.contrib import admin

from cards.admin import PanSafeSearchMixin, card_masked
from core.admin import ReadOnlyAdmin, ReadOnlyInline, money_display, run_service_action

from . import services
from .models import Payment, PaymentEvent, Refund


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fk_name = "payment"
    fields = ("id", "created", "type", "from_status", "to_status", "amount", "refund", "actor")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("refund")


class RefundInline(ReadOnlyInline):
    model = Refund
    fk_name = "payment"
    fields = ("id", "created", "amount", "currency", "status", "reason", "failure_code")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(PanSafeSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "merchant", "amount_display", "status", "card_display", "livemode", "amount_refunded_display",
                    "failure_code", "created")
    list_filter = ("status", "livemode", "currency", "card__brand", "processor", "created")
    search_fields = ("^id", "=card__last4", "=card__bin", "^merchant__id", "merchant__name",
                     "=api_client__client_id", "=processor_reference", "customer_email")
    date_hierarchy = "created"
    list_select_related = ("merchant", "card")
    fieldsets = (
        (None, {"fields": ("id", "merchant", "api_client", "livemode", "status", "created", "updated")}),
        ("Amounts", {"fields": ("amount", "currency", "amount_display", "amount_capturable", "amount_captured",
                                "amount_refunded", "capture")}),
        ("Card", {"fields": ("card_display", "failure_code", "failure_message")}),
        ("Risk", {"fields": ("risk_score", "risk_decision", "risk_reasons")}),
        ("Details", {"fields": ("description", "metadata", "customer_email", "customer_ip", "processor",
                                "processor_reference")}),
    )
    readonly_fields = ("id", "merchant", "api_client", "livemode", "status", "created", "updated", "amount",
                       "currency", "amount_display", "amount_capturable", "amount_captured", "amount_refunded",
                       "capture", "card_display", "failure_code", "failure_message", "description", "metadata",
                       "customer_email", "customer_ip", "processor", "processor_reference", "risk_score",
                       "risk_decision", "risk_reasons")
    inlines = (RefundInline, PaymentEventInline)
    actions = ("capture", "cancel", "refund_in_full")

    def get_queryset(self, request):
        # Setting select_related here switches off list_select_related: name every relation shown.
        return (super().get_queryset(request).select_related("merchant", "card", "api_client", "risk_assessment")
                .defer("card__pan_ciphertext"))

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="refunded", ordering="amount_refunded")
    def amount_refunded_display(self, obj):
        return money_display(obj.amount_refunded, obj.currency) if obj.amount_refunded else "-"

    @admin.display(description="card")
    def card_display(self, obj):
        return card_masked(obj.card)

    @admin.display(description="risk score")
    def risk_score(self, obj):
        return obj.risk_assessment.score if obj.risk_assessment_id else "-"

    @admin.display(description="risk decision")
    def risk_decision(self, obj):
        return obj.risk_assessment.decision if obj.risk_assessment_id else "-"

    @admin.display(description="risk reasons")
    def risk_reasons(self, obj):
        from risk.admin import reasons_html

        return reasons_html(obj.risk_assessment.reasons) if obj.risk_assessment_id else "-"

    # Actions: the services decide; the admin reports. A payment's own merchant and mode are passed on.

    def has_money_permission(self, request):
        return request.user.has_perm("payments.change_payment")

    def _run(self, request, queryset, action, call, done_message):
        run_service_action(self, request, queryset, action=action, object_type="payment", call=call,
                           done_message=done_message)

    @admin.action(description="Capture selected payments (full authorized amount)", permissions=["money"])
    def capture(self, request, queryset):
        self._run(request, queryset, "payment.capture", lambda p, actor: services.payment_capture(
            merchant_id=p.merchant_id, livemode=p.livemode, payment_id=p.pk, actor=actor), "Captured")

    @admin.action(description="Cancel selected payments (release the authorization)", permissions=["money"])
    def cancel(self, request, queryset):
        self._run(request, queryset, "payment.cancel", lambda p, actor: services.payment_cancel(
            merchant_id=p.merchant_id, livemode=p.livemode, payment_id=p.pk, actor=actor), "Canceled")

    @admin.action(description="Refund selected payments in full (what is left to refund)", permissions=["money"])
    def refund_in_full(self, request, queryset):
        self._run(request, queryset, "payment.refund", lambda p, actor: services.refund_create(
            merchant_id=p.merchant_id, livemode=p.livemode, payment_id=p.pk, actor=actor), "Refunded")


@admin.register(Refund)
class RefundAdmin(PanSafeSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "payment", "merchant", "amount_display", "status", "reason", "livemode", "created")
    list_filter = ("status", "livemode", "currency", "reason", "created")
    search_fields = ("^id", "^payment__id", "=payment__card__last4", "^merchant__id", "merchant__name",
                     "=processor_reference")
    date_hierarchy = "created"
    list_select_related = ("payment", "merchant")
    fields = ("id", "payment", "merchant", "livemode", "amount", "currency", "amount_display", "status", "reason",
              "failure_code", "processor_reference", "created", "updated")
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "payment", "type", "from_status", "to_status", "amount_display", "refund", "actor",
                    "created")
    list_filter = ("type", "to_status", "created")
    search_fields = ("^id", "^payment__id", "^refund__id", "actor")
    date_hierarchy = "created"
    list_select_related = ("payment", "refund")
    fields = ("id", "payment", "type", "from_status", "to_status", "amount", "amount_display", "refund", "actor",
              "created")
    readonly_fields = fields

    @admin.display(description="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.payment.currency) if obj.amount is not None else "-"


from . import review_admin  # noqa: E402, F401, I001  (the risk review queue, issue #5)
from . import settlement_admin  # noqa: E402, F401  (settlements and payouts, issue #3)
