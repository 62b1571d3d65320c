"""The risk review queue (issue #5): payments in requires_review, approved or rejected with a note.

Approve: requires_review -> processing, then the processor is asked (authorization, and capture if
the payment asked for it) through payments.services.payment_review_approve. Reject: -> canceled.
Both record the analyst and the note on the risk assessment and write an audit entry.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from core.admin import run_service_action

from . import services
from .admin import PaymentAdmin
from .constants import PaymentStatus
from .models import PaymentReview


@admin.register(PaymentReview)
class PaymentReviewAdmin(PaymentAdmin):
    list_display = ("id", "merchant", "amount_display", "risk_score", "risk_decision", "card_display",
                    "customer_email", "customer_ip", "created")
    list_filter = ("livemode", "currency", "created")
    actions = ("approve", "reject")
    ordering = ("created",)  # oldest first: they time out first

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=PaymentStatus.REQUIRES_REVIEW)

    def has_review_permission(self, request):
        return request.user.has_perm("payments.change_payment")

    def _review(self, request, queryset, *, action, verb, call):
        if "apply" in request.POST:
            note = (request.POST.get("note") or "").strip()
            if note:
                run_service_action(self, request, queryset, action=f"payment.review_{action}", object_type="payment",
                                   call=lambda p, actor: call(payment_id=p.pk, note=note, actor=actor),
                                   done_message=f"{verb}d")
                return None
            self.message_user(request, "Write a note: it is kept with the decision.", level=messages.ERROR)
        payments = list(queryset.select_related("risk_assessment"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "payments": payments,
                   "action": action, "verb": verb, "title": f"{verb} payments held for review"}
        return TemplateResponse(request, "admin/payments/review_note.html", context)

    @admin.action(description="Approve: authorize (and capture if asked) the selected payments",
                  permissions=["review"])
    def approve(self, request, queryset):
        return self._review(request, queryset, action="approve", verb="Approve",
                            call=services.payment_review_approve)

    @admin.action(description="Reject: cancel the selected payments", permissions=["review"])
    def reject(self, request, queryset):
        return self._review(request, queryset, action="reject", verb="Reject", call=services.payment_review_reject)
