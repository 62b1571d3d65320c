"""Settlement batches, their lines, payouts, and the append-only history of both.

Imported by payments/models.py. Exactly once: one Settlement per (merchant, currency, livemode,
period) (unique), one line per captured payment and per refund ever (the line's primary key is the
item's id), one
payout per settlement (one-to-one), and every money movement is a ledger entry with a unique key.
"""

from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import PayoutStatus, SettlementLineType, SettlementStatus


class Settlement(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("settlement"),
                          editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="settlements")
    livemode = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    period = models.DateField(help_text="The settlement day")
    cutoff = models.DateTimeField(help_text="Items captured (refunds succeeded) before this are included")
    status = models.CharField(max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.OPEN)
    payment_count = models.IntegerField(default=0)
    refund_count = models.IntegerField(default=0)
    gross = models.BigIntegerField(default=0, help_text="Sum of captured amounts")
    refunds = models.BigIntegerField(default=0, help_text="Sum of refunded amounts (positive)")
    fees = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0, help_text="gross - refunds - fees: the sum of the lines' net")
    carried_in = models.BigIntegerField(default=0, help_text="Negative net carried from the previous batch")
    carried_from = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="carried_to")
    total = models.BigIntegerField(default=0, help_text="net + carried_in: paid out if positive")
    carried_forward = models.BigIntegerField(default=0, help_text="total when negative: carried to the next batch")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="settlement_merchant_list")]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "currency", "livemode", "period"],
                                    name="settlement_once_per_period"),
            models.CheckConstraint(condition=Q(status__in=SettlementStatus.values), name="settlement_status_valid"),
            models.CheckConstraint(condition=Q(net=F("gross") - F("refunds") - F("fees")), name="settlement_net_sum"),
            models.CheckConstraint(condition=Q(total=F("net") + F("carried_in")), name="settlement_total_sum"),
        ]

    def __str__(self):
        return f"{self.id} {self.merchant_id} {self.period} {self.total} {self.currency}"


class SettlementLine(models.Model):
    """One captured payment or one refund in a settlement: gross, fee and net as they moved.

    Lean on purpose (a settlement run writes one per payment, a million a day is the benchmark):
    the primary key is the settled item's own id (`pay_...` or `re_...`), so one index both finds a
    line and makes every payment and every refund settle at most once, ever; one more index finds a
    settlement's lines. No database FK constraints: each would cost a check per line (4.7 s of a
    1,000,000-payment run for the settlement one alone). Lines are written only by the settlement's
    `INSERT ... SELECT` from the very rows they point at, which are never deleted, and ledger_verify
    checks that every line's settlement, payment and refund exist and agree.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, editable=False,
                          help_text="The settled item's id: the payment's (type payment) or the refund's (type refund)")
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="lines", db_constraint=False,
                                   db_index=False)
    type = models.CharField(max_length=16, choices=SettlementLineType.choices)
    # No index either: the payment's lines are found by their primary key (a payment line's id is the
    # payment id; a refund's payment is shown in the report, never searched by).
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="+",
                                db_constraint=False, db_index=False,
                                help_text="The payment captured, or the payment the refund gave money back on")
    gross = models.BigIntegerField(help_text="Captured amount, or minus the refunded amount")
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField()
    occurred_at = models.DateTimeField(help_text="When it was captured or refunded")

    class Meta:
        indexes = [models.Index(fields=["settlement"], name="settlement_line_settlement")]
        constraints = [
            models.CheckConstraint(condition=Q(net=F("gross") - F("fee")), name="settlement_line_net"),
            models.CheckConstraint(
                condition=(Q(type="payment", id=F("payment_id")) | (Q(type="refund") & ~Q(id=F("payment_id")))),
                name="settlement_line_kind"),
        ]

    def __str__(self):
        return f"{self.settlement_id} {self.type} {self.id} {self.net}"


class SettlementEvent(models.Model):
    """Append-only: a settlement's state changes (for the events outbox)."""

    id = models.BigAutoField(primary_key=True)
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.type} {self.settlement_id}"


class Payout(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("payout"), editable=False)
    settlement = models.OneToOneField(Settlement, on_delete=models.PROTECT, related_name="payout")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="payouts")
    livemode = models.BooleanField(default=False)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.PENDING)
    iban_last4 = models.CharField(max_length=4, blank=True)
    bank_reference = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    arrival_date = models.DateField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="payout_merchant_list"),
            models.Index(fields=["status", "updated"], name="payout_status_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"),
        ]

    def __str__(self):
        return f"{self.id} {self.amount} {self.currency} {self.status}"


class PayoutEvent(models.Model):
    """Append-only: a payout's state changes (for the events outbox)."""

    id = models.BigAutoField(primary_key=True)
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    failure_code = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.type} {self.payout_id}"
