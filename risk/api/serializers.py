from rest_framework import serializers

from ..constants import Decision, ListKind, ReviewOutcome


class ReasonSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="`list:...`, `velocity:...`, `amount:...`, `geo:...`, `limit:...`, "
                                           "`test_card:...` or `rule:rr_...`")
    message = serializers.CharField()


class AssessmentOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    payment = serializers.CharField(source="payment_id")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    score = serializers.IntegerField(help_text="0 (no risk seen) to 100")
    decision = serializers.ChoiceField(choices=Decision.choices)
    reasons = ReasonSerializer(many=True)
    card_country = serializers.CharField(allow_blank=True)
    ip_country = serializers.CharField(allow_blank=True)
    review_outcome = serializers.ChoiceField(choices=ReviewOutcome.choices, allow_null=True)
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "risk.assessment"

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["review_outcome"] = data["review_outcome"] or None
        return data


class AssessmentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = AssessmentOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class BlockListEntryInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ListKind.choices, help_text="What `value` is")
    value = serializers.CharField(max_length=254, help_text="A card fingerprint (from a card or payment), a BIN "
                                                            "(6 or 8 digits), an IP address or CIDR range, an email "
                                                            "domain, or an ISO 3166-1 alpha-2 country")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BlockListEntryOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    type = serializers.CharField(source="kind")
    value = serializers.CharField()
    note = serializers.CharField()
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "risk.block_list_entry"


class BlockListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = BlockListEntryOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class BlockListEntryDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="risk.block_list_entry")
    deleted = serializers.BooleanField()
