from django.conf import settings
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractApplication

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import ClientKind, DeliveryStatus, MemberRole, MerchantStatus, WebhookEndpointStatus
from .iban import validate_iban


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("merchant"), editable=False)
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, default="DE", help_text="ISO 3166-1 alpha-2")
    default_currency = models.CharField(max_length=3, default="EUR")
    support_email = models.EmailField(blank=True)
    payout_iban = models.CharField(max_length=34, blank=True, validators=[validate_iban],
                                   help_text="Bank account for payouts (IBAN, checked with ISO 13616 mod-97)")
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
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the person proved they read the account's e-mail (portal sign-up)")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} @ {self.merchant_id} ({self.role})"

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


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


# --- Events (outbox) and webhooks -----------------------------------------------------------------


class Event(models.Model):
    """Something that happened to an object, written in the same transaction as the change (outbox).

    `data` is the object as the API showed it at that moment; `sequence` numbers the events of one
    object (1, 2, 3, ...) so receivers can order them. Events are never changed.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("event"), editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="events")
    livemode = models.BooleanField(default=False)
    type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField()
    data = models.JSONField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="event_merchant_list"),
            models.Index(fields=["merchant", "livemode", "type", "-id"], name="event_merchant_type"),
            models.Index(fields=["merchant", "livemode", "created"], name="event_merchant_created"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["object_id", "sequence"], name="event_object_sequence_unique"),
        ]

    def __str__(self):
        return f"{self.id} {self.type} {self.object_id}#{self.sequence}"


class EventSequence(models.Model):
    """The last sequence number given to an object's events: one row per object, locked to allocate."""

    object_id = models.CharField(primary_key=True, max_length=64)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.object_id}: {self.last}"


class WebhookEndpoint(models.Model):
    """A merchant's URL that receives events, signed with its secret (Standard Webhooks).

    Secrets are stored encrypted (AES-256-GCM, WEBHOOK_ENCRYPTION_KEYS); after a rotation the previous
    secret stays valid until `previous_secret_expires` and both signatures are sent.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("webhook_endpoint"),
                          editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="webhook_endpoints")
    livemode = models.BooleanField(default=False)
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    enabled_events = models.JSONField(default=list, help_text='Event types, or ["*"] for all')
    status = models.CharField(max_length=16, choices=WebhookEndpointStatus.choices,
                              default=WebhookEndpointStatus.ENABLED)
    disabled_reason = models.CharField(max_length=255, blank=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True,
                                         help_text="First failed attempt since the last success")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="webhook_endpoint_list")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=WebhookEndpointStatus.values),
                                   name="webhook_endpoint_status_valid"),
        ]

    def __str__(self):
        return f"{self.id} {self.url} ({self.status})"

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until a 2xx, retried on the schedule, always the same webhook-id."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When a worker may next try (also the lease of a running try)")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            # An endpoint's delivery log, newest event first (the portal), at any depth.
            models.Index(fields=["endpoint", "-event"], name="webhook_delivery_endpoint_list"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_unique"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values),
                                   name="webhook_delivery_status_valid"),
        ]

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """Append-only log of every attempt: when, the answer (or error), how long it took, its first bytes."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    created = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first bytes of the response")

    class Meta:
        ordering = ["delivery", "created", "id"]

    def __str__(self):
        return f"{self.delivery_id} @ {self.created:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


class MerchantNotice(models.Model):
    """Something the merchant must know (an endpoint was disabled, ...): shown in the admin and the portal."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=64)
    message = models.TextField()
    object_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.merchant_id}: {self.kind}"


from .account_models import MerchantInvitation  # noqa: E402, F401  (portal team invitations: issue #7)
from .fee_models import FeePlan  # noqa: E402, F401  (fees: issue #3)
