"""Settlement batches, their lines, payouts, and the append-only history of both.

Imported by payments/models.py. Exactly once, by construction: every item a settlement pays out (a
captured payment, a refund drawn on the pending balance) takes the next number of its merchant's
settlement sequence (one per merchant, currency and mode) when it is booked, and a settlement is the
range of numbers after the previous one's (`seq_from` < seq <= `seq_to`). Ranges of one sequence
follow each other without gap or overlap, so every item is in exactly one settlement once settled.
A settlement's lines are those items, read through a database view (SettlementLine). One Settlement
per (merchant, currency, livemode, period) (unique), one payout per settlement (one-to-one), and
every money movement is a ledger entry with a unique key.
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
    status = models.CharField(max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.COMPLETED)
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
    sequence = models.ForeignKey("payments.SettlementSequence", on_delete=models.PROTECT, related_name="settlements",
                                 db_index=False,  # settlement_sequence_range leads with it
                                 help_text="The merchant's settlement sequence (currency, mode) it is a range of")
    seq_from = models.BigIntegerField(default=0, help_text="Its items follow this number of the sequence (excluded)")
    seq_to = models.BigIntegerField(default=0, help_text="... up to this one (included)")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="settlement_merchant_list"),
                   # The settlement holding an item: the first of its sequence ending at or after its number.
                   models.Index(fields=["sequence", "seq_to"], name="settlement_sequence_range")]
        constraints = [
            models.CheckConstraint(condition=Q(seq_from__gte=0, seq_to__gte=F("seq_from")),
                                   name="settlement_seq_range"),
            models.UniqueConstraint(fields=["merchant", "currency", "livemode", "period"],
                                    name="settlement_once_per_period"),
            models.CheckConstraint(condition=Q(status__in=SettlementStatus.values), name="settlement_status_valid"),
            models.CheckConstraint(condition=Q(net=F("gross") - F("refunds") - F("fees")), name="settlement_net_sum"),
            models.CheckConstraint(condition=Q(total=F("net") + F("carried_in")), name="settlement_total_sum"),
        ]

    def __str__(self):
        return f"{self.id} {self.merchant_id} {self.period} {self.total} {self.currency}"


class SettlementSequence(models.Model):
    """The order in which a merchant's items became due for settlement, per currency and mode.

    Booking an item (a capture; a refund drawn on pending, when it succeeds) takes the next number
    under this row's lock, with its booking time, which never goes back (the later of the clock and
    the last item's time). Items are therefore numbered in commit order, and those booked before any
    cutoff are a prefix of the sequence: a settlement takes the numbers after `settled` booked before
    its cutoff, and moves `settled` to the last of them. Nothing is written per item at settlement.
    """

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    livemode = models.BooleanField(default=False)
    booked = models.BigIntegerField(default=0, help_text="The last number taken")
    booked_at = models.DateTimeField(help_text="The last item's booking time")
    settled = models.BigIntegerField(default=0, help_text="Items up to this number are settled")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "currency", "livemode"], name="settlement_sequence_once"),
            models.CheckConstraint(condition=Q(settled__gte=0, settled__lte=F("booked")),
                                   name="settlement_sequence_settled_le_booked"),
        ]

    def __str__(self):
        return f"{self.merchant_id} {self.currency} {'live' if self.livemode else 'test'} {self.settled}/{self.booked}"


class SettlementLine(models.Model):
    """One captured payment or one refund in a settlement, as it moved: a row of a database view.

    The view (migration payments/0005) joins each settlement to the payments and refunds whose
    sequence numbers fall in its range, so a settlement run writes nothing per item and the lines
    can never disagree with the items. Read-only; `id` is the item's id (`pay_...` or `re_...`).
    On SQLite, a migration altering the payments, refunds or settlements table must drop the view
    and create it again around that change (see migration 0005).
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, editable=False,
                          help_text="The settled item's id: the payment's (type payment) or the refund's (type refund)")
    settlement = models.ForeignKey(Settlement, on_delete=models.DO_NOTHING, related_name="lines",
                                   db_constraint=False)
    type = models.CharField(max_length=16, choices=SettlementLineType.choices)
    payment = models.ForeignKey("payments.Payment", on_delete=models.DO_NOTHING, related_name="+",
                                db_constraint=False,
                                help_text="The payment captured, or the payment the refund gave money back on")
    gross = models.BigIntegerField(help_text="Captured amount, or minus the refunded amount")
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField()
    occurred_at = models.DateTimeField(help_text="When it was captured or refunded")
    seq = models.BigIntegerField(help_text="Its number in the merchant's settlement sequence")

    class Meta:
        managed = False
        db_table = "payments_settlementline"

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
