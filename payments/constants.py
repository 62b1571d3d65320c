"""Payment and refund statuses, their transition tables, and decline codes."""

from django.db import models


class PaymentStatus(models.TextChoices):
    # The intent is recorded and the processor is being asked: lasts the length of one call.
    PROCESSING = "processing", "Processing"
    REQUIRES_CAPTURE = "requires_capture", "Requires capture"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


# A payment is created `processing` (its intent recorded before the processor is called); the
# processor's answer moves it on. Refunds do not change a payment's status: they raise
# amount_refunded (up to amount_captured).
INITIAL_PAYMENT_STATUS = PaymentStatus.PROCESSING

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.PROCESSING: {PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED},
    PaymentStatus.REQUIRES_CAPTURE: {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED},
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.FAILED: set(),
    PaymentStatus.CANCELED: set(),
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
    REFUND_CREATED = "refund.created"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"


# decline code -> (API error code, message a cardholder may see)
DECLINES: dict[str, tuple[str, str]] = {
    "card_declined": ("card_declined", "The card was declined."),
    "insufficient_funds": ("card_declined", "The card has insufficient funds."),
    "lost_card": ("card_declined", "The card was declined."),
    "stolen_card": ("card_declined", "The card was declined."),
    "expired_card": ("expired_card", "The card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "The card's security code is incorrect."),
    "processing_error": ("processing_error", "An error occurred while processing the card. Try again."),
}
