"""Card issuing API (#4): input and output kept apart. Outputs never hold the number or the CVC, except
`IssuedCardDetailsSerializer`, rendered only by the audited card details endpoint."""

from rest_framework import serializers

from core.api import StrictCharField, StrictIntegerField

from ..constants import BlockReason, CardStatus, CardType
from ..issuing_models import MAX_SPENDING_LIMIT
from ..issuing_representations import (  # noqa: F401 (the API's output serializers live with the events')
    AuthorizationOutputSerializer,
    CardholderOutputSerializer,
    IssuedCardOutputSerializer,
    authorization_representation,
    card_representation,
    cardholder_representation,
)

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


class CardholderListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = CardholderOutputSerializer(many=True)
    has_more = serializers.BooleanField()


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


class AuthorizationListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    url = serializers.CharField()
    data = AuthorizationOutputSerializer(many=True)
    has_more = serializers.BooleanField()
