from django.conf import settings
from django.db import models
from oauth2_provider.models import AbstractApplication

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import ClientKind, MemberRole, MerchantStatus


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("merchant"), editable=False)
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, default="DE", help_text="ISO 3166-1 alpha-2")
    default_currency = models.CharField(max_length=3, default="EUR")
    support_email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=MerchantStatus.values), name="merchant_status_valid"),
        ]

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def is_active(self) -> bool:
        return self.status == MerchantStatus.ACTIVE


class MerchantStatusEvent(models.Model):
    """Append-only history of a merchant's status."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="status_events")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.merchant_id}: {self.from_status} -> {self.to_status}"


class MerchantMember(models.Model):
    """A person who works for a merchant (portal log-in, OAuth consent)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_member")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=16, choices=MemberRole.choices, default=MemberRole.OWNER)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} @ {self.merchant_id} ({self.role})"


class ApiClient(AbstractApplication):
    """An OAuth2 client of the API, bound to one merchant and to test or live mode.

    This is django-oauth-toolkit's application model (OAUTH2_PROVIDER_APPLICATION_MODEL).
    `server` clients use the client-credentials grant and act for their own merchant.
    `connect` clients are third-party apps: authorization code with PKCE, acting for the
    merchant whose member consented.
    """

    public_id = models.CharField(max_length=ID_MAX_LENGTH, unique=True, default=id_factory("client"), editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_clients")
    kind = models.CharField(max_length=16, choices=ClientKind.choices, default=ClientKind.SERVER)
    livemode = models.BooleanField(default=False)
    allowed_scopes = models.TextField(blank=True, help_text="Space-separated scopes this client may be granted")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=ClientKind.SERVER, authorization_grant_type="client-credentials")
                    | models.Q(kind=ClientKind.CONNECT, authorization_grant_type="authorization-code")
                ),
                name="api_client_kind_matches_grant",
            ),
        ]

    @property
    def allowed_scope_set(self) -> frozenset[str]:
        return frozenset(self.allowed_scopes.split())

    def is_usable(self, request):
        return self.revoked_at is None and self.merchant.status != MerchantStatus.SUSPENDED

    def __str__(self):
        mode = "live" if self.livemode else "test"
        return f"{self.name or self.client_id} ({mode}, {self.merchant_id})"
