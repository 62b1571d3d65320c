"""Card issuing (#4): the cards this bank issues, for partner merchants that issue through it.

- `CardProgram`: set up by bank staff for one partner merchant in one mode: a BIN, a brand, a
  currency and a type (debit, credit, prepaid). The partner's API clients issue cards under it.
- `Cardholder`: a person the partner issues cards to (name, email, phone, billing address).
- `CardAccount`: the money behind a cardholder's cards in one program: a funded balance (debit,
  prepaid) or a credit line (credit), kept in the ledger as holder-owned accounts
  (`card_available`, `card_held`, `card_credit_line`, holder = the account's id). No balance here.
- `IssuedCard`: a card of the account. Its number lives in the vault (`vault_card`, a `cards.Card`
  encrypted like any other); the CVC is derived from a secret key and never stored. Status follows
  `constants.CARD_TRANSITIONS`; every change appends an `IssuedCardEvent`.
- `IssuingAuthorization`: one on-us authorization request (approved or declined) of a live payment,
  with its hold; `IssuingAuthorizationEvent` is its append-only history.
"""

from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, id_factory
from core.money import MAX_PAYMENT_AMOUNT

from .constants import (
    AuthorizationEventType,
    AuthorizationStatus,
    BlockReason,
    CardEventType,
    CardStatus,
    CardType,
    ProgramType,
)

MAX_SPENDING_LIMIT = MAX_PAYMENT_AMOUNT * 100  # minor units; also the largest funding amount


class CardProgram(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("issuing_program"),
                          editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="card_programs",
                                 help_text="The partner that issues cards through the bank under this program")
    livemode = models.BooleanField(default=False)
    name = models.CharField(max_length=100)
    bin = models.CharField(max_length=8, help_text="6 or 8 digits: every card number of the program starts so")
    brand = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=16, choices=ProgramType.choices)
    default_credit_limit = models.BigIntegerField(default=0, help_text="Credit programs: minor units")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bin"], name="card_program_bin_unique"),
            models.CheckConstraint(condition=Q(type__in=ProgramType.values), name="card_program_type_valid"),
            models.CheckConstraint(condition=Q(default_credit_limit__gte=0), name="card_program_credit_limit_range"),
        ]

    def __str__(self):
        return f"{self.name} ({self.bin}, {self.type}, {self.currency}, {'live' if self.livemode else 'test'})"


class Cardholder(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("cardholder"),
                          editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="cardholders")
    livemode = models.BooleanField(default=False)
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +4930123456")
    billing_line1 = models.CharField(max_length=200)
    billing_line2 = models.CharField(max_length=200, blank=True)
    billing_city = models.CharField(max_length=100)
    billing_state = models.CharField(max_length=100, blank=True)
    billing_postal_code = models.CharField(max_length=20)
    billing_country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="cardholder_merchant_list")]

    def __str__(self):
        return f"{self.name} ({self.id})"


class CardAccount(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("card_account"),
                          editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="card_accounts")
    livemode = models.BooleanField(default=False)
    program = models.ForeignKey(CardProgram, on_delete=models.PROTECT, related_name="accounts")
    cardholder = models.ForeignKey(Cardholder, on_delete=models.PROTECT, related_name="accounts")
    type = models.CharField(max_length=16, choices=ProgramType.choices)
    currency = models.CharField(max_length=3)
    credit_limit = models.BigIntegerField(default=0, help_text="Credit accounts: the line booked in the ledger")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="card_account_credit_limit_range"),
            models.CheckConstraint(condition=Q(type=ProgramType.CREDIT) | Q(credit_limit=0),
                                   name="card_account_credit_limit_only_credit"),
        ]

    def __str__(self):
        return f"{self.id} ({self.type}, {self.currency})"


class IssuedCard(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("issued_card"),
                          editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="issued_cards")
    livemode = models.BooleanField(default=False)
    program = models.ForeignKey(CardProgram, on_delete=models.PROTECT, related_name="cards")
    account = models.ForeignKey(CardAccount, on_delete=models.PROTECT, related_name="cards")
    cardholder = models.ForeignKey(Cardholder, on_delete=models.PROTECT, related_name="cards")
    vault_card = models.OneToOneField("cards.Card", on_delete=models.PROTECT, related_name="issued",
                                      help_text="The number, encrypted in the vault (BIN, last 4, expiry)")
    fingerprint = models.CharField(max_length=64, help_text="The vault's keyed HMAC of the number: finds the card "
                                   "for an on-us authorization, and keeps numbers unique")
    type = models.CharField(max_length=16, choices=CardType.choices)
    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.INACTIVE)
    block_reason = models.CharField(max_length=16, choices=BlockReason.choices, blank=True)
    replacement_for = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                           related_name="replaced_by", help_text="The card this one was reissued for")
    # Spending controls (minor units of the account's currency; null: no limit; empty list: any).
    limit_per_transaction = models.BigIntegerField(null=True, blank=True)
    limit_daily = models.BigIntegerField(null=True, blank=True, help_text="Per UTC day")
    limit_monthly = models.BigIntegerField(null=True, blank=True, help_text="Per UTC calendar month")
    allowed_currencies = models.JSONField(default=list, blank=True)
    allowed_countries = models.JSONField(default=list, blank=True, help_text="The merchant's country, alpha-2")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="issued_card_merchant_list"),
            models.Index(fields=["status", "id"], name="issued_card_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="issued_card_number_unique"),
            models.CheckConstraint(condition=Q(status__in=CardStatus.values), name="issued_card_status_valid"),
            models.CheckConstraint(condition=Q(type__in=CardType.values), name="issued_card_type_valid"),
            *[models.CheckConstraint(condition=Q(**{f"{f}__isnull": True})
                                     | Q(**{f"{f}__gt": 0, f"{f}__lte": MAX_SPENDING_LIMIT}),
                                     name=f"issued_card_{f}_range")
              for f in ("limit_per_transaction", "limit_daily", "limit_monthly")],
        ]

    def __str__(self):
        return f"{self.id} ({self.status})"

    @property
    def block_reason_or_none(self):
        return self.block_reason or None


class IssuedCardEvent(models.Model):
    """Append-only history of an issued card: status changes, reissue, spending controls, detail reads."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("issued_card_event"),
                          editable=False)
    card = models.ForeignKey(IssuedCard, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=CardEventType.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.type} {self.card_id}"


class IssuingAuthorization(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("issuing_authorization"),
                          editable=False)
    card = models.ForeignKey(IssuedCard, on_delete=models.PROTECT, related_name="authorizations")
    account = models.ForeignKey(CardAccount, on_delete=models.PROTECT, related_name="authorizations")
    livemode = models.BooleanField(default=False)
    reference = models.CharField(max_length=ID_MAX_LENGTH, help_text="The acquiring side's payment id: an "
                                 "authorization request is answered once per reference")
    acquiring_merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+",
                                           help_text="Where the card was used")
    merchant_country = models.CharField(max_length=2, blank=True)
    amount = models.BigIntegerField(help_text="Minor units of currency")
    currency = models.CharField(max_length=3)
    approved = models.BooleanField()
    decline_code = models.CharField(max_length=40, blank=True)
    decline_detail = models.CharField(max_length=200, blank=True, help_text="Which rule declined, for the partner")
    status = models.CharField(max_length=16, choices=AuthorizationStatus.choices)
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="A pending hold is released after this")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["card", "-id"], name="issuing_auth_card_list"),
            models.Index(fields=["card", "created"], name="issuing_auth_card_spend"),
            models.Index(fields=["status", "expires_at"], name="issuing_auth_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="issuing_auth_reference_unique"),
            models.CheckConstraint(condition=Q(status__in=AuthorizationStatus.values),
                                   name="issuing_auth_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="issuing_auth_amount_positive"),
            models.CheckConstraint(condition=Q(amount_captured__gte=0, amount_captured__lte=F("amount")),
                                   name="issuing_auth_captured_range"),
            models.CheckConstraint(condition=Q(amount_refunded__gte=0, amount_refunded__lte=F("amount_captured")),
                                   name="issuing_auth_refunded_le_captured"),
            models.CheckConstraint(condition=Q(approved=True) | Q(status=AuthorizationStatus.DECLINED),
                                   name="issuing_auth_declined_status"),
        ]

    def __str__(self):
        return f"{self.id} {self.amount} {self.currency} {self.status}"

    @property
    def decline_code_or_none(self):
        return self.decline_code or None

    @property
    def decline_detail_or_none(self):
        return self.decline_detail or None


class IssuingAuthorizationEvent(models.Model):
    """Append-only history of an authorization: created, captured, reversed, expired, refunded."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH,
                          default=id_factory("issuing_authorization_event"), editable=False)
    authorization = models.ForeignKey(IssuingAuthorization, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=AuthorizationEventType.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=120, blank=True, help_text="The acquiring side's operation reference")
    actor = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A capture, a reversal or a refund is applied once per reference (retries find it).
            models.UniqueConstraint(fields=["authorization", "reference"], condition=~Q(reference=""),
                                    name="issuing_auth_event_reference_unique"),
        ]

    def __str__(self):
        return f"{self.type} {self.authorization_id}"
