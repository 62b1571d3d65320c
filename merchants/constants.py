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
