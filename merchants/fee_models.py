from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q


class FeePlan(models.Model):
    """What the bank charges a merchant per captured payment in one currency: a percentage in basis
    points plus a fixed amount in the currency's minor unit. See merchants/fees.py for the rounding."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="fee_plans")
    currency = models.CharField(max_length=3)
    percent_bps = models.PositiveIntegerField(validators=[MaxValueValidator(10_000)],
                                              help_text="Basis points of the captured amount (150 = 1.50%)")
    fixed_amount = models.BigIntegerField(default=0, help_text="Per capture, in the currency's minor unit")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "currency"], name="fee_plan_one_per_currency"),
            models.CheckConstraint(condition=Q(percent_bps__lte=10_000, fixed_amount__gte=0), name="fee_plan_range"),
        ]

    def __str__(self):
        return f"{self.merchant_id} {self.currency}: {self.percent_bps} bps + {self.fixed_amount}"
