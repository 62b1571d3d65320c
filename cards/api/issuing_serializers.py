"""Card issuing API (#4): input and output kept apart. Outputs never hold the number or the CVC, except
`IssuedCardDetailsSerializer`, rendered only by the audited card details endpoint."""

from rest_framework import serializers

from core.api import StrictCharField, StrictIntegerField

from ..constants import AuthorizationStatus, BlockReason, CardStatus, CardType, ProgramType
from ..issuing_models import MAX_SPENDING_LIMIT

# --- Input ---------------------------------------------------------------------------------------------------


class BillingInputSerializer(serializers.Serializer):
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE")


class CardholderCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone_number = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                         help_text="E.164, e.g. +4930123456")
    billing = BillingInputSerializer()


def _limit(help_text):
    return StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_SPENDING_LIMIT,
                              help_text=f"{help_text}, in the minor unit of the account's currency; null: no limit")


class SpendingControlsInputSerializer(serializers.Serializer):
    """Only the controls given change (null clears a limit; an empty list allows any)."""

    per_transaction_limit = _limit("Largest single payment")
    daily_limit = _limit("Spending per UTC day")
    monthly_limit = _limit("Spending per UTC calendar month")
    allowed_currencies = serializers.ListField(child=StrictCharField(max_length=3), required=False, max_length=250,
                                               help_text="ISO 4217 codes; empty: any")
    allowed_countries = serializers.ListField(child=StrictCharField(max_length=2), required=False, max_length=250,
                                              help_text="The merchant's country (ISO 3166-1 alpha-2); empty: any")


class IssuedCardCreateInputSerializer(serializers.Serializer):
    cardholder = serializers.CharField(max_length=64, help_text="An `ich_...` cardholder")
    type = serializers.ChoiceField(choices=CardType.choices)
    program = serializers.CharField(max_length=64, required=False,
                                    help_text="An `iprg_...` card program: the card gets a new account in it. "
                                              "Default: your only program in this mode")
    account = serializers.CharField(max_length=64, required=False,
                                    help_text="An `iacct_...` account of the cardholder: one more card on it")
    status = serializers.ChoiceField(choices=[CardStatus.ACTIVE, CardStatus.INACTIVE], required=False,
                                     help_text="Default: active for a virtual card, inactive for a physical one")
    credit_limit = StrictIntegerField(required=False, min_value=0, max_value=MAX_SPENDING_LIMIT,
                                      help_text="Credit programs, new account: the limit (default: the program's)")
    spending_controls = SpendingControlsInputSerializer(required=False)


class IssuedCardUpdateInputSerializer(serializers.Serializer):
    spending_controls = SpendingControlsInputSerializer()


class IssuedCardBlockInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=BlockReason.choices)


class IssuedCardListParamsSerializer(serializers.Serializer):
    cardholder = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=CardStatus.choices, required=False)


# --- Output ------------------------------------------------------------------------------------------------------


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


class CardholderListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = CardholderOutputSerializer(many=True)
    has_more = serializers.BooleanField()


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


class IssuedCardListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = IssuedCardOutputSerializer(many=True)
    has_more = serializers.BooleanField()


class IssuedCardDetailsSerializer(serializers.Serializer):
    """The full card data of a virtual card: shown by the audited details endpoint only, never stored."""

    id = serializers.CharField()
    object = serializers.CharField(default="issuing.card_details")
    number = serializers.CharField()
    cvc = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()


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


class AuthorizationListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = AuthorizationOutputSerializer(many=True)
    has_more = serializers.BooleanField()


# --- Representations: the API's responses and the events' `data` (cards/issuing_events.py) -------------------


def cardholder_representation(holder) -> dict:
    return CardholderOutputSerializer(holder).data


def card_representation(card) -> dict:
    """`card` as GET /v1/issuing/cards/{id} shows it: from `issuing_selectors.issued_cards` (with balances)."""
    return IssuedCardOutputSerializer(card).data


def authorization_representation(authorization) -> dict:
    return AuthorizationOutputSerializer(authorization).data
