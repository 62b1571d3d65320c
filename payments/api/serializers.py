from rest_framework import serializers

from cards.api.serializers import CardInputSerializer
from core.api import MetadataField, StrictIntegerField
from core.money import MAX_PAYMENT_AMOUNT

from ..constants import PaymentStatus, RefundReason
from ..representations import PaymentOutputSerializer, RefundOutputSerializer

# --- Input ---------------------------------------------------------------------------------------


class PaymentCreateInputSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=MAX_PAYMENT_AMOUNT,
                                help_text="Integer in the currency's minor unit (cents; JPY has none; KWD has 3).")
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217 code, e.g. EUR, JPY, KWD")
    card = CardInputSerializer(required=False)
    card_token = serializers.CharField(required=False, max_length=64, help_text="A `card_...` token from /v1/cards")
    capture = serializers.BooleanField(default=True, help_text="false: authorize only; capture later")
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    metadata = MetadataField(required=False, default=dict)
    customer_email = serializers.EmailField(required=False, allow_blank=True)  # default "" in payment_create
    customer_ip = serializers.IPAddressField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if ("card" in attrs) == ("card_token" in attrs):
            raise serializers.ValidationError({"card": "Give either card or card_token (exactly one)."})
        return attrs


class PaymentCaptureInputSerializer(serializers.Serializer):
    amount = StrictIntegerField(required=False, min_value=1, max_value=MAX_PAYMENT_AMOUNT,
                                help_text="Up to amount_capturable; the rest is released. Default: all of it.")


class RefundCreateInputSerializer(serializers.Serializer):
    payment = serializers.CharField(max_length=64)
    amount = StrictIntegerField(required=False, min_value=1, max_value=MAX_PAYMENT_AMOUNT,
                                help_text="Default: everything still refundable")
    reason = serializers.ChoiceField(choices=RefundReason.choices, required=False)


class PaymentListParamsSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)


# --- Output --------------------------------------------------------------------------------------


class PaymentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = PaymentOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class RefundListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = RefundOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class CardErrorDetailSerializer(serializers.Serializer):
    type = serializers.CharField(default="card_error")
    code = serializers.CharField()
    decline_code = serializers.CharField()
    message = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    request_id = serializers.CharField()
    payment = PaymentOutputSerializer()


class CardErrorSerializer(serializers.Serializer):
    error = CardErrorDetailSerializer()
