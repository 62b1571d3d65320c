from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, id_factory
from core.money import MAX_PAYMENT_AMOUNT

from .constants import EventType, PaymentStatus, RefundReason, RefundStatus


class Payment(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("payment"), editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="payments")
    api_client = models.ForeignKey(
        "merchants.ApiClient", on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    livemode = models.BooleanField(default=False)
    amount = models.BigIntegerField(help_text="Minor units of currency")
    currency = models.CharField(max_length=3)
    amount_capturable = models.BigIntegerField(default=0)
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    fee = models.BigIntegerField(default=0, help_text="Booked at capture (merchants/fees.py)")
    captured_at = models.DateTimeField(null=True, blank=True)
    settlement_sequence = models.ForeignKey(
        "payments.SettlementSequence", on_delete=models.PROTECT, null=True, blank=True, editable=False,
        db_index=False, related_name="+", help_text="The merchant's settlement sequence (currency, mode)")
    settlement_seq = models.BigIntegerField(
        null=True, blank=True, editable=False,
        help_text="Its number in that sequence, taken at capture: settled by the settlement whose range holds it "
                  "(payments/settlement.py)")
    status = models.CharField(max_length=24, choices=PaymentStatus.choices)
    capture = models.BooleanField(default=True)
    card = models.ForeignKey("cards.Card", on_delete=models.PROTECT, related_name="payments")
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=1000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    customer_email = models.EmailField(blank=True)
    customer_ip = models.GenericIPAddressField(null=True, blank=True)
    processor = models.CharField(max_length=32)
    processor_reference = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True,
                                       help_text="The API client's Idempotency-Key that created it, if any")
    risk_assessment = models.ForeignKey("risk.Assessment", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", help_text="The risk engine's assessment (issue #5)")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "updated"], name="payment_status_updated"),
            models.Index(fields=["merchant", "livemode", "-id"], name="payment_merchant_list"),
            models.Index(fields=["merchant", "livemode", "status", "-id"], name="payment_merchant_status"),
            models.Index(fields=["merchant", "livemode", "created"], name="payment_merchant_created"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["settlement_sequence", "settlement_seq"],
                                    condition=Q(settlement_sequence__isnull=False), name="payment_settlement_seq"),
            models.CheckConstraint(
                condition=Q(amount__gt=0, amount__lte=MAX_PAYMENT_AMOUNT), name="payment_amount_range"
            ),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.UniqueConstraint(fields=["api_client", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="payment_idempotency_key_unique"),
            models.CheckConstraint(
                condition=Q(amount_capturable__gte=0, amount_capturable__lte=F("amount")),
                name="payment_capturable_range",
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_captured__lte=F("amount")), name="payment_captured_range"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refunded__lte=F("amount_captured")),
                name="payment_refunded_le_captured",
            ),
        ]

    def __str__(self):
        return f"{self.id} {self.amount} {self.currency} {self.status}"

    @property
    def failure_code_or_none(self):
        return self.failure_code or None

    @property
    def failure_message_or_none(self):
        return self.failure_message or None


class PaymentEvent(models.Model):
    """Append-only history of a payment (and its refunds): one row per state change."""

    id = models.CharField(
        primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("payment_event"), editable=False
    )
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    actor = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.type} {self.payment_id}"


class Refund(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("refund"), editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="refunds")
    livemode = models.BooleanField(default=False)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    reason = models.CharField(max_length=32, choices=RefundReason.choices, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    processor_reference = models.CharField(max_length=64, blank=True)
    api_client = models.ForeignKey("merchants.ApiClient", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="refunds")
    funded_from = models.CharField(max_length=16, blank=True,
                                   help_text="The merchant balance it was drawn from: pending or available")
    settlement_sequence = models.ForeignKey(
        "payments.SettlementSequence", on_delete=models.PROTECT, null=True, blank=True, editable=False,
        db_index=False, related_name="+", help_text="Drawn on pending: the merchant's settlement sequence")
    settlement_seq = models.BigIntegerField(
        null=True, blank=True, editable=False, help_text="Its number in that sequence, taken when it succeeded")
    booked_at = models.DateTimeField(null=True, blank=True, editable=False,
                                     help_text="When it took its place in the settlement sequence")
    idempotency_key = models.CharField(max_length=255, blank=True,
                                       help_text="The API client's Idempotency-Key that created it, if any")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="refund_merchant_list"),
            models.Index(fields=["status", "updated"], name="refund_status_updated"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["settlement_sequence", "settlement_seq"],
                                    condition=Q(settlement_sequence__isnull=False), name="refund_settlement_seq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="refund_status_valid"),
            models.UniqueConstraint(fields=["api_client", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="refund_idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.id} {self.amount} {self.currency} {self.status}"

    @property
    def reason_or_none(self):
        return self.reason or None

    @property
    def failure_code_or_none(self):
        return self.failure_code or None


from .settlement_models import (  # noqa: E402, F401
    Payout,
    PayoutEvent,
    Settlement,
    SettlementEvent,
    SettlementLine,
    SettlementSequence,
)


class PaymentReview(Payment):
    """The risk review queue in the admin (issue #5): payments held in requires_review."""

    class Meta:
        proxy = True
        verbose_name = "payment to review"
        verbose_name_plural = "review queue"
