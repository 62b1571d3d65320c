"""Account types and purposes, and which accounts may go below zero."""

from django.db import models


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    REVENUE = "revenue", "Revenue"
    EXPENSE = "expense", "Expense"


# Debit-normal accounts grow with debits; the others (liability, revenue) grow with credits.
DEBIT_NORMAL = frozenset({AccountType.ASSET, AccountType.EXPENSE})


class AccountPurpose(models.TextChoices):
    MERCHANT_PENDING = "merchant_pending", "Merchant pending (captured, not yet settled)"
    MERCHANT_AVAILABLE = "merchant_available", "Merchant available (settled, payable)"
    FEE_REVENUE = "fee_revenue", "Fee revenue"
    SCHEME_RECEIVABLE = "scheme_receivable", "Scheme receivable (clearing)"
    PAYOUT_CLEARING = "payout_clearing", "Payouts in transit"
    BANK_CASH = "bank_cash", "Bank cash (settlement account)"


# purpose -> (type, per merchant, may go below zero)
ACCOUNT_SPECS: dict[str, tuple[str, bool, bool]] = {
    # Pending may go below zero: a refund may exceed the net of an unsettled payment (the fee is kept).
    AccountPurpose.MERCHANT_PENDING: (AccountType.LIABILITY, True, True),
    # What we owe the merchant and can pay out: never below zero.
    AccountPurpose.MERCHANT_AVAILABLE: (AccountType.LIABILITY, True, False),
    AccountPurpose.FEE_REVENUE: (AccountType.REVENUE, False, False),
    # The card schemes owe us captures less refunds; a day of refunds larger than captures turns it around.
    AccountPurpose.SCHEME_RECEIVABLE: (AccountType.ASSET, False, True),
    AccountPurpose.PAYOUT_CLEARING: (AccountType.LIABILITY, False, False),
    AccountPurpose.BANK_CASH: (AccountType.ASSET, False, True),
}


class EntryType(models.TextChoices):
    """What a journal entry records; for a merchant, the `type` of the balance transaction."""

    PAYMENT = "payment", "Payment (capture)"
    REFUND = "refund", "Refund"
    REFUND_FAILURE = "refund_failure", "Refund failed (reversal)"
    SETTLEMENT = "settlement", "Settlement (pending to available)"
    PAYOUT = "payout", "Payout"
    PAYOUT_FAILURE = "payout_failure", "Payout failed (reversal)"
    PAYOUT_PAID = "payout_paid", "Payout paid by the bank"
