from rest_framework import serializers

from core.api import StrictCharField, StrictIntegerField


class CardInputSerializer(serializers.Serializer):
    """Raw card data. Only ever validated and handed to the vault: never echoed back."""

    number = StrictCharField(max_length=32, trim_whitespace=True)
    exp_month = StrictIntegerField()
    exp_year = StrictIntegerField()
    cvc = StrictCharField(max_length=8, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class CardSummarySerializer(serializers.Serializer):
    """What may be shown of a card: brand, BIN, last 4, expiry and fingerprint."""

    brand = serializers.CharField()
    bin = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    fingerprint = serializers.CharField()


class CardOutputSerializer(CardSummarySerializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    name = serializers.CharField()
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "card"


class CardDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="card")
    deleted = serializers.BooleanField(default=True)


class CardListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = CardOutputSerializer(many=True)
    has_more = serializers.BooleanField()
