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
    # Card issuing (#4): one of each per card account (the account's id is the ledger account's `holder`).
    CARD_AVAILABLE = "card_available", "Card account available (what the cardholder can spend)"
    CARD_HELD = "card_held", "Card account held (authorized, not yet captured)"
    CARD_CREDIT_LINE = "card_credit_line", "Card account credit line granted (credit cards)"


class Owner:
    """Who an account belongs to: a merchant, a holder (a card account, by its public id), or the platform."""

    MERCHANT = "merchant"
    HOLDER = "holder"
    PLATFORM = None


# purpose -> (type, owner, may go below zero). Merchant- and holder-owned accounts keep a cached balance,
# locked while an entry posts to them; platform accounts keep none (see models.Account).
ACCOUNT_SPECS: dict[str, tuple[str, str | None, bool]] = {
    # Pending may go below zero: a refund may exceed the net of an unsettled payment (the fee is kept).
    AccountPurpose.MERCHANT_PENDING: (AccountType.LIABILITY, Owner.MERCHANT, True),
    # What we owe the merchant and can pay out: never below zero.
    AccountPurpose.MERCHANT_AVAILABLE: (AccountType.LIABILITY, Owner.MERCHANT, False),
    AccountPurpose.FEE_REVENUE: (AccountType.REVENUE, Owner.PLATFORM, False),
    # The card schemes owe us captures less refunds; a day of refunds larger than captures turns it around.
    AccountPurpose.SCHEME_RECEIVABLE: (AccountType.ASSET, Owner.PLATFORM, True),
    AccountPurpose.PAYOUT_CLEARING: (AccountType.LIABILITY, Owner.PLATFORM, False),
    AccountPurpose.BANK_CASH: (AccountType.ASSET, Owner.PLATFORM, True),
    # What the bank owes a cardholder and lets them spend: never below zero (that is "insufficient funds").
    AccountPurpose.CARD_AVAILABLE: (AccountType.LIABILITY, Owner.HOLDER, False),
    # Authorized and not yet captured: moved here from available by a hold, out again by capture or release.
    AccountPurpose.CARD_HELD: (AccountType.LIABILITY, Owner.HOLDER, False),
    # A credit card's line: DR here, CR available by the limit. Owed by the cardholder = line - available - held.
    AccountPurpose.CARD_CREDIT_LINE: (AccountType.ASSET, Owner.HOLDER, False),
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
    # Card issuing (#4): money on the cardholder's side of an on-us payment.
    ISSUING_FUNDING = "issuing_funding", "Card account funded (deposit)"
    ISSUING_CREDIT_LIMIT = "issuing_credit_limit", "Card account credit limit changed"
    ISSUING_HOLD = "issuing_hold", "Card authorization hold"
    ISSUING_CAPTURE = "issuing_capture", "Card authorization captured (the rest released)"
    ISSUING_RELEASE = "issuing_release", "Card authorization released (canceled or expired)"
    ISSUING_REFUND = "issuing_refund", "Card payment refunded to the cardholder"
