from django.db import models
from django.db.models import Q

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import Decision, ListAction, ListKind, ReviewOutcome, RuleAction


class Assessment(models.Model):
    """One risk assessment of one payment attempt: its input (no PAN), signals, score, decision and reasons.

    Append-only except for the review fields, which record the analyst's decision on a `review`.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("risk_assessment"),
                          editable=False)
    payment_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True, db_index=True,
                                  help_text="The payment assessed (a plain id: risk does not know payments)")
    merchant_id = models.CharField(max_length=ID_MAX_LENGTH)
    livemode = models.BooleanField(default=False)
    amount = models.BigIntegerField(help_text="Minor units of currency")
    currency = models.CharField(max_length=3)
    card_fingerprint = models.CharField(max_length=64, blank=True)
    card_bin = models.CharField(max_length=8, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_brand = models.CharField(max_length=16, blank=True)
    card_country = models.CharField(max_length=2, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    email_domain = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_country = models.CharField(max_length=2, blank=True)
    merchant_country = models.CharField(max_length=2, blank=True)
    score = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reasons = models.JSONField(default=list, blank=True, help_text="[{rule, message}] that decided or scored")
    shadow_matches = models.JSONField(default=list, blank=True, help_text="Shadow rules that matched (not acted on)")
    signals = models.JSONField(default=dict, blank=True, help_text="Velocity counters and amount statistics seen")
    errors = models.JSONField(default=list, blank=True, help_text="Rules that failed to evaluate")
    review_outcome = models.CharField(max_length=16, choices=ReviewOutcome.choices, blank=True)
    review_note = models.TextField(blank=True)
    reviewed_by = models.CharField(max_length=200, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["merchant_id", "livemode", "-id"], name="risk_assessment_merchant_list"),
            models.Index(fields=["created"], name="risk_assessment_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="risk_assessment_score_range"),
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="risk_assessment_decision_valid"),
        ]

    def __str__(self):
        return f"{self.id} {self.decision} {self.score}"


class ListEntry(models.Model):
    """A block or allow list entry: for every merchant (merchant empty, staff only) or one merchant."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("risk_list_entry"),
                          editable=False)
    kind = models.CharField(max_length=16, choices=ListKind.choices)
    value = models.CharField(max_length=254, help_text="Normalized: lower-case domain, upper-case country, "
                                                        "CIDR network, digits of a BIN, a card fingerprint")
    action = models.CharField(max_length=8, choices=ListAction.choices, default=ListAction.BLOCK)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", help_text="Empty: applies to every merchant")
    livemode = models.BooleanField(null=True, blank=True, help_text="Empty: both modes")
    note = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "list entries"
        indexes = [models.Index(fields=["merchant", "-id"], name="risk_list_merchant")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ListKind.values), name="risk_list_kind_valid"),
            models.CheckConstraint(condition=Q(action__in=ListAction.values), name="risk_list_action_valid"),
        ]

    def __str__(self):
        return f"{self.action} {self.kind} {self.value}"


class Rule(models.Model):
    """A rule in Common Expression Language. Validated when saved; run in order block > review > allow."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("risk_rule"),
                          editable=False)
    name = models.CharField(max_length=100)
    expression = models.TextField(help_text="CEL, e.g. payment.amount > 500000 && card.country != merchant.country")
    action = models.CharField(max_length=8, choices=RuleAction.choices)
    message = models.CharField(max_length=300, help_text="The reason shown when the rule matches, in plain words")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", help_text="Empty: every merchant")
    enabled = models.BooleanField(default=False, help_text="Off: a draft (backtest it before switching it on)")
    shadow = models.BooleanField(default=False, help_text="Shadow mode: matches are recorded, never acted on")
    position = models.IntegerField(default=0, help_text="Order within the same action (lower first)")
    created_by = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(action__in=RuleAction.values), name="risk_rule_action_valid"),
        ]

    def __str__(self):
        return f"{self.name} ({self.action})"


class MerchantLimit(models.Model):
    """Per-merchant limits in one currency; exceeding one leads to its action."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    max_amount = models.BigIntegerField(null=True, blank=True, help_text="Largest single payment (minor units)")
    max_count_1h = models.PositiveIntegerField(null=True, blank=True, help_text="Payments in any sliding hour")
    max_volume_1h = models.BigIntegerField(null=True, blank=True, help_text="Volume in any sliding hour (minor units)")
    action = models.CharField(max_length=8, choices=[(Decision.REVIEW, "Review"), (Decision.BLOCK, "Block")],
                              default=Decision.REVIEW)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "currency"], name="risk_limit_merchant_currency")]

    def __str__(self):
        return f"limits {self.merchant_id} {self.currency}"


class AmountStats(models.Model):
    """Rolling amount statistics of a merchant in one currency (Welford), updated incrementally per payment."""

    merchant_id = models.CharField(max_length=ID_MAX_LENGTH)
    livemode = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    count = models.BigIntegerField(default=0)
    mean = models.FloatField(default=0.0)
    m2 = models.FloatField(default=0.0, help_text="Sum of squared deviations from the mean")

    class Meta:
        verbose_name_plural = "amount statistics"
        constraints = [
            models.UniqueConstraint(fields=["merchant_id", "livemode", "currency"], name="risk_amount_stats_key"),
        ]

    def __str__(self):
        return f"{self.merchant_id} {self.currency} n={self.count}"


class VelocityBucket(models.Model):
    """The database backend's velocity counters: the attempts of one key in one minute (risk/velocity.py).

    A busy key's minute is spread over a few stripes (rows), so that concurrent attempts queue less on one row.
    """

    key = models.CharField(max_length=64)
    bucket = models.BigIntegerField(help_text="Minutes since 2020-01-01 (risk.velocity.EPOCH_MS)")
    stripe = models.PositiveSmallIntegerField(default=0)
    count = models.BigIntegerField(default=0)
    amount = models.BigIntegerField(default=0, help_text="Sum of the attempts' amounts (minor units)")

    class Meta:
        indexes = [models.Index(fields=["bucket"], name="risk_velocity_bucket")]
        constraints = [models.UniqueConstraint(fields=["key", "bucket", "stripe"], name="risk_velocity_key_bucket")]

    def __str__(self):
        return f"{self.key} {self.bucket}: {self.count}"
