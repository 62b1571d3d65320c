"""Back office for settlements and payouts (imported by payments/admin.py). Read-only; actions call services.

- Settlements: the "Settle now (today's period)" action runs the same service as the beat task and
  `manage.py settle` (it needs no selection).
- Payouts: send pending ones, mark in-transit ones paid or failed (a failure returns the money).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.admin import ReadOnlyAdmin, ReadOnlyInline, money_display, run_service_action
from core.audit import audit_record, staff_actor

from . import settlement
from .constants import PayoutStatus
from .models import Payout, PayoutEvent, Settlement, SettlementEvent, SettlementLine, SettlementSequence


class SettlementEventInline(ReadOnlyInline):
    model = SettlementEvent
    fields = ("created", "type", "from_status", "to_status", "actor")
    readonly_fields = fields
    show_change_link = False


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ("id", "merchant", "period", "status", "payment_count", "refund_count", "total_display", "livemode")
    list_filter = ("status", "livemode", "currency", "period")
    search_fields = ("^id", "^merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    inlines = [SettlementEventInline]  # lines: see the CSV report (a batch may hold millions)
    actions = ["settle_now"]

    @admin.display(description="total")
    def total_display(self, obj):
        return money_display(obj.total, obj.currency)

    @admin.action(description="Settle now (today's period, then send payouts)")
    def settle_now(self, request, queryset=None):
        period = datetime.now(UTC).date()
        ids = settlement.settlement_run(period=period, actor=staff_actor(request.user))
        audit_record(actor=staff_actor(request.user), action="settlement.run", object_type="settlement",
                     object_id=str(period), data={"settlements": ids})
        self.message_user(request, f"{len(ids)} settlement(s) for {period}.", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        # The action settles a period, not the selected rows: let it run with nothing selected.
        if request.method == "POST" and request.POST.get("action") == "settle_now":
            self.settle_now(request)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


class PayoutEventInline(ReadOnlyInline):
    model = PayoutEvent
    fields = ("created", "type", "from_status", "to_status", "failure_code", "actor")
    readonly_fields = fields
    show_change_link = False


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "merchant", "amount_display", "status", "failure_code", "arrival_date", "created")
    list_filter = ("status", "livemode", "currency")
    search_fields = ("^id", "^merchant__id", "merchant__name", "=bank_reference")
    list_select_related = ("merchant",)
    inlines = [PayoutEventInline]
    actions = ["send", "mark_paid", "mark_failed"]

    @admin.display(description="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    def _transition(self, request, queryset, to_status, **kwargs):
        run_service_action(self, request, queryset, action=f"payout.{to_status}", object_type="payout",
                           call=lambda obj, actor: settlement.payout_transition(
                               payout_id=obj.pk, to_status=to_status, actor=actor, **kwargs),
                           done_message=f"Payouts marked {to_status}")

    @admin.action(description="Send to the bank (pending -> in transit)")
    def send(self, request, queryset):
        self._transition(request, queryset, PayoutStatus.IN_TRANSIT)

    @admin.action(description="Mark paid (the bank confirmed)")
    def mark_paid(self, request, queryset):
        self._transition(request, queryset, PayoutStatus.PAID)

    @admin.action(description="Mark failed (money back to the available balance)")
    def mark_failed(self, request, queryset):
        self._transition(request, queryset, PayoutStatus.FAILED, failure_code="bank_returned")


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdmin):
    list_display = ("id", "settlement", "type", "seq", "payment_id", "gross", "fee", "net", "currency", "occurred_at")
    list_filter = ("type", "settlement__currency")
    search_fields = ("=id", "=settlement__id", "=payment__id")
    list_select_related = ("settlement",)
    show_full_result_count = False

    @admin.display(description="currency", ordering="settlement__currency")
    def currency(self, line):
        return line.settlement.currency


@admin.register(SettlementSequence)
class SettlementSequenceAdmin(ReadOnlyAdmin):
    """Where each merchant's settlement stands: items booked (captures, refunds drawn on pending) and settled."""

    list_display = ("merchant", "currency", "livemode", "booked", "settled", "due", "booked_at")
    list_filter = ("livemode", "currency")
    search_fields = ("^merchant__id", "merchant__name")
    list_select_related = ("merchant",)

    @admin.display(description="not settled yet")
    def due(self, obj):
        return obj.booked - obj.settled


@admin.register(SettlementEvent)
class SettlementEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "settlement", "type", "from_status", "to_status", "actor", "created")
    search_fields = ("^settlement__id",)


@admin.register(PayoutEvent)
class PayoutEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "payout", "type", "from_status", "to_status", "failure_code", "actor", "created")
    search_fields = ("^payout__id",)
