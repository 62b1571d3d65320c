"""The JSON shape of card issuing's objects (#4), in one place: the issuing API's responses and the webhook
events' `data` (cards/issuing_events.py) both come from these serializers, so an event shows an object exactly
as the API would have then. None of them holds the card number or the CVC (only
api.issuing_serializers.IssuedCardDetailsSerializer does, for the audited details endpoint)."""

from rest_framework import serializers

from .constants import AuthorizationStatus, CardStatus, CardType, ProgramType


class BillingOutputSerializer(serializers.Serializer):
    line1 = serializers.CharField(source="billing_line1")
    line2 = serializers.CharField(source="billing_line2")
    city = serializers.CharField(source="billing_city")
    state = serializers.CharField(source="billing_state")
    postal_code = serializers.CharField(source="billing_postal_code")
    country = serializers.CharField(source="billing_country")


class CardholderOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone_number = serializers.CharField()
    billing = BillingOutputSerializer(source="*")
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "issuing.cardholder"


class SpendingControlsOutputSerializer(serializers.Serializer):
    per_transaction_limit = serializers.IntegerField(allow_null=True, source="limit_per_transaction")
    daily_limit = serializers.IntegerField(allow_null=True, source="limit_daily")
    monthly_limit = serializers.IntegerField(allow_null=True, source="limit_monthly")
    allowed_currencies = serializers.ListField(child=serializers.CharField())
    allowed_countries = serializers.ListField(child=serializers.CharField())


class CardAccountOutputSerializer(serializers.Serializer):
    """The money behind the card (shared by every card of the account): cached ledger balances."""

    id = serializers.CharField(source="account_id")
    type = serializers.ChoiceField(choices=ProgramType.choices, source="account.type")
    currency = serializers.CharField(source="account.currency")
    available = serializers.IntegerField(source="account_available", help_text="What can be spent now")
    held = serializers.IntegerField(source="account_held", help_text="Authorized, not yet captured")
    credit_limit = serializers.IntegerField(source="account.credit_limit", help_text="Credit accounts; else 0")


class IssuedCardOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    cardholder = serializers.CharField(source="cardholder_id")
    program = serializers.CharField(source="program_id")
    account = CardAccountOutputSerializer(source="*")
    type = serializers.ChoiceField(choices=CardType.choices)
    status = serializers.ChoiceField(choices=CardStatus.choices)
    block_reason = serializers.CharField(allow_null=True, source="block_reason_or_none")
    brand = serializers.CharField(source="vault_card.brand")
    last4 = serializers.CharField(source="vault_card.last4")
    exp_month = serializers.IntegerField(source="vault_card.exp_month")
    exp_year = serializers.IntegerField(source="vault_card.exp_year")
    spending_controls = SpendingControlsOutputSerializer(source="*")
    replacement_for = serializers.CharField(allow_null=True, source="replacement_for_id")
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "issuing.card"


class MerchantDataSerializer(serializers.Serializer):
    name = serializers.CharField(source="acquiring_merchant.name")
    country = serializers.CharField(source="merchant_country")


class AuthorizationOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    card = serializers.CharField(source="card_id")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    approved = serializers.BooleanField()
    decline_code = serializers.CharField(allow_null=True, source="decline_code_or_none")
    decline_detail = serializers.CharField(allow_null=True, source="decline_detail_or_none",
                                           help_text="Which check declined it (for the card's holder, not the payer)")
    status = serializers.ChoiceField(choices=AuthorizationStatus.choices)
    amount_captured = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    merchant_data = MerchantDataSerializer(source="*")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="A pending hold is released then")
    livemode = serializers.BooleanField()
    created = serializers.DateTimeField()

    def get_object(self, obj) -> str:
        return "issuing.authorization"


def cardholder_representation(holder) -> dict:
    return CardholderOutputSerializer(holder).data


def card_representation(card) -> dict:
    """`card` as GET /v1/issuing/cards/{id} shows it: from `issuing_selectors.issued_cards` (with balances)."""
    return IssuedCardOutputSerializer(card).data


def authorization_representation(authorization) -> dict:
    return AuthorizationOutputSerializer(authorization).data
