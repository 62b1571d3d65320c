"""Double-entry bookkeeping.

- `Account`: one currency, one mode, typed (asset, liability, revenue, expense), with a purpose and
  optionally an owner: a merchant, or a `holder` (a card account of card issuing, by its public id).
  An owned account's `balance` is a cache of the sum of its postings on the account's normal side (a
  merchant's available balance of 100 is +100), kept in the transaction that posts. Platform accounts
  (no owner) keep no cache (`balance` stays 0): every
  merchant's captures touch them, and a cached balance would be one row every payment waits for;
  their balance is the sum of their postings (ledger.selectors.account_balance).
- `JournalEntry`: one movement of money, posted exactly once (unique `key`). An entry that touches a
  merchant's accounts is that merchant's balance transaction (`merchant`, `type`, `amount`, `fee`,
  `net`, `source`).
- `Posting`: a signed amount (debit positive, credit negative) on one account. Immutable: PostgreSQL
  refuses UPDATE and DELETE (trigger), and every entry balances per currency (deferred constraint
  trigger), see migrations/0002_ledger_triggers.py.
"""

from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import AccountPurpose, AccountType, EntryType


class Account(models.Model):
    id = models.BigAutoField(primary_key=True)
    purpose = models.CharField(max_length=32, choices=AccountPurpose.choices)
    type = models.CharField(max_length=16, choices=AccountType.choices)
    currency = models.CharField(max_length=3)
    livemode = models.BooleanField(default=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="ledger_accounts")
    holder = models.CharField(max_length=ID_MAX_LENGTH, blank=True, default="",
                              help_text="Owner that is not a merchant: a card account (iacct_...) of card issuing")
    allow_negative = models.BooleanField(default=False)
    balance = models.BigIntegerField(
        default=0,
        help_text="Merchant and holder accounts: cached sum of postings on the normal side (minor units). "
        "Platform accounts: not cached (0); see account_balance",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purpose", "currency", "livemode", "merchant"],
                                    condition=Q(merchant__isnull=False), name="ledger_account_unique_merchant"),
            models.UniqueConstraint(fields=["purpose", "currency", "livemode"],
                                    condition=Q(merchant__isnull=True, holder=""),
                                    name="ledger_account_unique_platform"),
            models.UniqueConstraint(fields=["purpose", "currency", "livemode", "holder"],
                                    condition=~Q(holder=""), name="ledger_account_unique_holder"),
            models.CheckConstraint(condition=Q(merchant__isnull=True) | Q(holder=""),
                                   name="ledger_account_one_owner"),
            models.CheckConstraint(condition=Q(allow_negative=True) | Q(balance__gte=0),
                                   name="ledger_account_not_negative"),
            models.CheckConstraint(condition=Q(type__in=AccountType.values), name="ledger_account_type_valid"),
        ]

    def __str__(self):
        owner = self.merchant_id or self.holder or "platform"
        return f"{self.purpose} {self.currency} {'live' if self.livemode else 'test'} {owner}"

    @property
    def owned(self) -> bool:
        """Merchant and holder accounts: cached balance, locked while posting. Platform accounts: neither."""
        return self.merchant_id is not None or bool(self.holder)


class JournalEntry(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("journal_entry"),
                          editable=False)
    key = models.CharField(max_length=120, unique=True, help_text="Posts a movement exactly once, e.g. capture:pay_...")
    type = models.CharField(max_length=24, choices=EntryType.choices)
    livemode = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="journal_entries")
    source = models.CharField(max_length=ID_MAX_LENGTH, blank=True, help_text="The pay_/re_/stl_/po_ id it records")
    amount = models.BigIntegerField(default=0, help_text="For the merchant: gross effect on their balance")
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="reversed_by")
    description = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "journal entries"
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="ledger_entry_merchant_list"),
            models.Index(fields=["source"], name="ledger_entry_source"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(net=F("amount") - F("fee")), name="ledger_entry_net_is_amount_less_fee"),
        ]

    def __str__(self):
        return f"{self.id} {self.key}"


class Posting(models.Model):
    id = models.BigAutoField(primary_key=True)
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField(help_text="Debit positive, credit negative (minor units)")
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_not_zero")]

    def __str__(self):
        return f"{self.entry_id} {self.account_id} {self.amount:+d} {self.currency}"


class VerificationRun(models.Model):
    """One run of the invariant checks (`ledger_verify`, the periodic task): visible in the admin."""

    id = models.BigAutoField(primary_key=True)
    ok = models.BooleanField()
    problems = models.JSONField(default=list, blank=True)
    checked = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M} {'ok' if self.ok else 'BROKEN'}"
