from rest_framework import serializers

from core.api import ListParamsSerializer
from ledger.constants import EntryType

from ..constants import PayoutStatus


class BalanceAmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units")
    currency = serializers.CharField()


class BalanceSerializer(serializers.Serializer):
    object = serializers.CharField(default="balance")
    livemode = serializers.BooleanField()
    available = BalanceAmountSerializer(many=True, help_text="Settled, payable (paid out with the next payout)")
    pending = BalanceAmountSerializer(many=True, help_text="Captured, less fees and refunds, not yet settled")


class BalanceTransactionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    type = serializers.ChoiceField(choices=EntryType.choices)
    amount = serializers.IntegerField(help_text="Effect on your balance before fees (minor units, signed)")
    fee = serializers.IntegerField()
    net = serializers.IntegerField(help_text="amount - fee")
    currency = serializers.CharField()
    source = serializers.CharField(help_text="The pay_, re_, stl_ or po_ id this records")
    available_on = serializers.SerializerMethodField()
    settlement = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "balance_transaction"

    def get_available_on(self, obj) -> str | None:
        day = self.context.get("available_on", {}).get(obj.pk)
        return day.isoformat() if day else None

    def get_settlement(self, obj) -> str | None:
        return getattr(obj, "settlement_id", None)


class BalanceTransactionListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = BalanceTransactionSerializer(many=True)
    has_more = serializers.BooleanField()


class BalanceTransactionListParamsSerializer(ListParamsSerializer):
    type = serializers.ChoiceField(choices=EntryType.choices, required=False)
    source = serializers.CharField(required=False, max_length=64)


class SettlementSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    status = serializers.CharField()
    period = serializers.DateField(help_text="The settlement day")
    cutoff = serializers.DateTimeField(help_text="Items captured or refunded before this are included")
    currency = serializers.CharField()
    payment_count = serializers.IntegerField()
    refund_count = serializers.IntegerField()
    gross = serializers.IntegerField()
    refunds = serializers.IntegerField()
    fees = serializers.IntegerField()
    net = serializers.IntegerField(help_text="gross - refunds - fees")
    carried_in = serializers.IntegerField(help_text="Negative total carried from the previous settlement")
    total = serializers.IntegerField(help_text="net + carried_in; paid out when positive")
    carried_forward = serializers.IntegerField(help_text="The total when negative: carried to the next settlement")
    payout = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "settlement"

    def get_payout(self, obj) -> str | None:
        payout = getattr(obj, "payout", None) if hasattr(obj, "payout") else None
        return payout.pk if payout else None


class SettlementListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = SettlementSerializer(many=True)
    has_more = serializers.BooleanField()


class PayoutSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=PayoutStatus.choices)
    settlement = serializers.CharField(source="settlement_id")
    iban_last4 = serializers.CharField(allow_blank=True)
    failure_code = serializers.SerializerMethodField()
    arrival_date = serializers.DateField(allow_null=True)
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "payout"

    def get_failure_code(self, obj) -> str | None:
        return obj.failure_code or None


class PayoutListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = PayoutSerializer(many=True)
    has_more = serializers.BooleanField()


class PayoutListParamsSerializer(ListParamsSerializer):
    status = serializers.ChoiceField(choices=PayoutStatus.choices, required=False)
