from django.db import models


class MerchantStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


# Allowed status changes of a merchant (bank staff decide them in the admin).
MERCHANT_TRANSITIONS: dict[str, set[str]] = {
    MerchantStatus.PENDING: {MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED},
    MerchantStatus.ACTIVE: {MerchantStatus.SUSPENDED},
    MerchantStatus.SUSPENDED: {MerchantStatus.ACTIVE},
}


class MemberRole(models.TextChoices):
    OWNER = "owner", "Owner"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


class ClientKind(models.TextChoices):
    SERVER = "server", "Server (client credentials)"
    CONNECT = "connect", "Third-party app (authorization code + PKCE)"


# --- Events and webhooks --------------------------------------------------------------------------


class WebhookEndpointStatus(models.TextChoices):
    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its next attempt (next_attempt_at)
    DELIVERED = "delivered", "Delivered"  # the endpoint answered 2xx
    FAILED = "failed", "Failed"  # every retry failed, or the endpoint answered 410 Gone
    CANCELED = "canceled", "Canceled"  # the endpoint was disabled or deleted before delivery


# Event types the platform publishes today. Other apps add theirs with merchants.services.event_publish.
WEBHOOK_TEST_EVENT = "webhook_endpoint.test"
EVENT_TYPES: tuple[str, ...] = (
    "payment.created",
    "payment.authorized",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "payment.captured",
    "payment.requires_review",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
    "settlement.created",  # settlement and payouts (issue #3)
    "payout.created",
    "payout.in_transit",
    "payout.paid",
    "payout.failed",
    "issuing_cardholder.created",  # card issuing (issue #4): cards/issuing_events.py
    "issuing_card.created",
    "issuing_card.updated",
    "issuing_authorization.created",
    "issuing_authorization.updated",
    WEBHOOK_TEST_EVENT,
)

# Delay before each retry of a failed delivery (the first attempt is immediate). Each delay is
# spread by +-10 % jitter so retries of many deliveries do not arrive together. In all 13 attempts
# over about 3 days (71.6 hours); then the delivery is `failed`. Redeliver or replay to send it again.
WEBHOOK_RETRY_DELAYS_SECONDS: tuple[int, ...] = (
    5,  # 5 seconds
    60,  # 1 minute
    5 * 60,  # 5 minutes
    30 * 60,  # 30 minutes
    2 * 3600,  # 2 hours
    5 * 3600,  # 5 hours
    10 * 3600,  # 10 hours
    12 * 3600,
    12 * 3600,
    12 * 3600,
    12 * 3600,  # 12 hours each
    6 * 3600,  # 6 hours
)
WEBHOOK_RETRY_JITTER = 0.1
# An endpoint that has not answered 2xx for this long (while deliveries failed) is disabled.
WEBHOOK_DISABLE_AFTER_SECONDS = 3 * 24 * 3600
# How long the previous secret still signs after a rotation.
WEBHOOK_SECRET_OVERLAP_SECONDS = 24 * 3600
