"""Payment and refund statuses, their transition tables, and decline codes."""

from django.db import models

from cards.constants import ISSUING_DECLINES


class PaymentStatus(models.TextChoices):
    # The intent is recorded and the processor is being asked: lasts the length of one call.
    PROCESSING = "processing", "Processing"
    REQUIRES_CAPTURE = "requires_capture", "Requires capture"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    # The risk engine asked for a person to look (issue #5): no money moved; an analyst approves
    # (-> processing, then the processor is asked) or rejects (-> canceled); unreviewed ones time out.
    REQUIRES_REVIEW = "requires_review", "Requires review"


# A payment is created `processing` (its intent recorded before the processor is called); the
# processor's answer moves it on. Refunds do not change a payment's status: they raise
# amount_refunded (up to amount_captured).
INITIAL_PAYMENT_STATUS = PaymentStatus.PROCESSING

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.PROCESSING: {PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                               PaymentStatus.REQUIRES_REVIEW},
    PaymentStatus.REQUIRES_CAPTURE: {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED},
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.FAILED: set(),
    PaymentStatus.CANCELED: set(),
    PaymentStatus.REQUIRES_REVIEW: {PaymentStatus.PROCESSING, PaymentStatus.CANCELED},
}


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


REFUND_TRANSITIONS: dict[str, set[str]] = {
    RefundStatus.PENDING: {RefundStatus.SUCCEEDED, RefundStatus.FAILED},
    RefundStatus.SUCCEEDED: set(),
    RefundStatus.FAILED: set(),
}


class RefundReason(models.TextChoices):
    DUPLICATE = "duplicate", "Duplicate"
    FRAUDULENT = "fraudulent", "Fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by customer"


class EventType(models.TextChoices):
    PAYMENT_CREATED = "payment.created"
    PAYMENT_AUTHORIZED = "payment.authorized"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CANCELED = "payment.canceled"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_REQUIRES_REVIEW = "payment.requires_review"
    PAYMENT_REVIEW_APPROVED = "payment.review_approved"
    REFUND_CREATED = "refund.created"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"


# decline code -> (API error code, message a cardholder may see); the on-us processor's own codes (#4) last.
DECLINES: dict[str, tuple[str, str]] = {
    "card_declined": ("card_declined", "The card was declined."),
    "insufficient_funds": ("card_declined", "The card has insufficient funds."),
    "lost_card": ("card_declined", "The card was declined."),
    "stolen_card": ("card_declined", "The card was declined."),
    "expired_card": ("expired_card", "The card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "The card's security code is incorrect."),
    "processing_error": ("processing_error", "An error occurred while processing the card. Try again."),
    "fraudulent": ("card_declined", "The card was declined."),  # blocked by the risk engine (#5)
    **ISSUING_DECLINES,
}


# --- Settlement and payouts (issue #3) -----------------------------------------------------------


class SettlementStatus(models.TextChoices):
    # A settlement is created whole by its run (a range of its merchant's settlement sequence, nothing
    # attached later), so it is `completed` from its first commit and never changes: its payout moves.
    COMPLETED = "completed", "Completed"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


PAYOUT_TRANSITIONS: dict[str, set[str]] = {
    # pending -> failed: refused before it left (e.g. no valid bank account on the merchant).
    PayoutStatus.PENDING: {PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED},
    PayoutStatus.IN_TRANSIT: {PayoutStatus.PAID, PayoutStatus.FAILED},
    PayoutStatus.PAID: set(),
    PayoutStatus.FAILED: set(),
}


class SettlementLineType(models.TextChoices):
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
