"""The JSON shape of a payment and of a refund, in one place.

The API's responses and the events' `data.object` (merchants.services.event_publish) both come from
these serializers, so a webhook shows an object exactly as GET /v1/payments/{id} would have then.
"""

from rest_framework import serializers

from cards.api.serializers import CardSummarySerializer

from .constants import PaymentStatus, RefundStatus


class RiskReasonSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="What decided or scored: `list:...`, `velocity:...`, `rule:rr_...`")
    message = serializers.CharField()


class PaymentRiskSerializer(serializers.Serializer):
    """The risk engine's verdict on the payment (issue #5)."""

    assessment = serializers.CharField(source="id")
    score = serializers.IntegerField(help_text="0 (no risk seen) to 100")
    decision = serializers.ChoiceField(choices=["allow", "review", "block"])
    reasons = RiskReasonSerializer(many=True)


class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    amount = serializers.IntegerField()
    amount_capturable = serializers.IntegerField()
    amount_captured = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    capture = serializers.BooleanField()
    card = CardSummarySerializer()
    failure_code = serializers.CharField(allow_null=True, source="failure_code_or_none")
    failure_message = serializers.CharField(allow_null=True, source="failure_message_or_none")
    risk = PaymentRiskSerializer(source="risk_assessment", allow_null=True)
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    customer_email = serializers.CharField()
    customer_ip = serializers.CharField(allow_null=True)
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "payment"


class RefundOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    payment = serializers.CharField(source="payment_id")
    status = serializers.ChoiceField(choices=RefundStatus.choices)
    reason = serializers.CharField(allow_null=True, source="reason_or_none")
    failure_code = serializers.CharField(allow_null=True, source="failure_code_or_none")
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "refund"


def payment_representation(payment) -> dict:
    return PaymentOutputSerializer(payment).data


def refund_representation(refund) -> dict:
    return RefundOutputSerializer(refund).data
