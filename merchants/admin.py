"""Back office for merchants, their people and their API clients.

A merchant's status changes only through `services.merchant_set_status` (actions
"Activate" / "Suspend"); an API client is revoked only through `services.api_client_revoke`,
and its scopes change only through `services.api_client_set_scopes`.

`ApiClientAdmin` is django-oauth-toolkit's application admin: DOT registers the application
model itself with the class named in OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"] (see
config/settings.py), so this module must not register ApiClient a second time.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyInline, run_service_action
from core.audit import audit_record, staff_actor
from core.money import CurrencyError, normalize_currency
from core.scopes import MERCHANT_SCOPES

from . import services
from .constants import MerchantStatus, WebhookEndpointStatus
from .models import (
    ApiClient,
    Event,
    EventSequence,
    Merchant,
    MerchantInvitation,
    MerchantMember,
    MerchantNotice,
    MerchantStatusEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- Merchants ------------------------------------------------------------------------------------


class MerchantForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = ("name", "legal_name", "country", "default_currency", "support_email")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A merchant needs a name.")
        return name

    def clean_country(self):
        country = self.cleaned_data["country"]
        if len(country) != 2 or not country.isalpha() or not country.isascii():
            raise forms.ValidationError("Country must be an ISO 3166-1 alpha-2 code.")
        return country.upper()

    def clean_default_currency(self):
        try:
            return normalize_currency(self.cleaned_data["default_currency"])
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc))


class MerchantStatusEventInline(ReadOnlyInline):
    model = MerchantStatusEvent
    fields = ("created", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    show_change_link = False
    ordering = ("-created", "-id")


class ApiClientInline(ReadOnlyInline):
    model = ApiClient
    fields = ("public_id", "name", "kind", "livemode", "client_id", "revoked_at", "last_used_at")
    readonly_fields = fields
    fk_name = "merchant"


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    form = MerchantForm
    list_display = ("id", "name", "status", "country", "default_currency", "support_email", "created")
    list_filter = ("status", "country", "default_currency", "created")
    search_fields = ("^id", "name", "legal_name", "support_email")
    date_hierarchy = "created"
    readonly_fields = ("id", "status", "created", "updated")
    fieldsets = (
        (None, {"fields": ("id", "name", "legal_name", "status")}),
        ("Details", {"fields": ("country", "default_currency", "support_email")}),
        ("Dates", {"fields": ("created", "updated")}),
    )
    inlines = (MerchantStatusEventInline, ApiClientInline)
    actions = ("activate", "suspend")

    def has_delete_permission(self, request, obj=None):
        return False  # merchants are suspended, never deleted: payments and the ledger point to them

    def save_model(self, request, obj, form, change):
        if change:
            # Only the edited fields: never write back a status that an action changed meanwhile.
            obj.save(update_fields=[*form.changed_data, "updated"] if form.changed_data else ["updated"])
        else:
            obj.save()
        audit_record(actor=staff_actor(request.user), action="merchant.updated" if change else "merchant.created",
                     object_type="merchant", object_id=obj.pk, merchant_id=obj.pk,
                     data={"via": "admin", "fields": sorted(form.changed_data)})

    def _set_status(self, request, queryset, to_status: str, done_message: str):
        run_service_action(
            self, request, queryset,
            action=f"merchant.set_status.{to_status}",
            object_type="merchant",
            call=lambda merchant, actor: services.merchant_set_status(
                merchant_id=merchant.pk, to_status=to_status, actor=actor, note="admin action"
            ),
            done_message=done_message,
            merchant_id_of=lambda merchant: merchant.pk,
        )

    @admin.action(description="Activate selected merchants", permissions=["change"])
    def activate(self, request, queryset):
        self._set_status(request, queryset, MerchantStatus.ACTIVE, "Activated")

    @admin.action(description="Suspend selected merchants", permissions=["change"])
    def suspend(self, request, queryset):
        self._set_status(request, queryset, MerchantStatus.SUSPENDED, "Suspended")


@admin.register(MerchantStatusEvent)
class MerchantStatusEventAdmin(ReadOnlyAdmin):
    list_display = ("created", "merchant", "from_status", "to_status", "actor")
    list_filter = ("to_status", "from_status", "created")
    search_fields = ("^merchant__id", "merchant__name", "actor")
    date_hierarchy = "created"
    list_select_related = ("merchant",)
    fields = ("merchant", "from_status", "to_status", "actor", "note", "created")
    readonly_fields = fields


@admin.register(MerchantMember)
class MerchantMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "email_verified_at", "created")
    list_filter = ("role", "created")
    search_fields = ("user__username", "user__email", "^merchant__id", "merchant__name")
    list_select_related = ("user", "merchant")
    raw_id_fields = ("user", "merchant")
    readonly_fields = ("created",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(actor=staff_actor(request.user), action="member.updated" if change else "member.created",
                     object_type="merchant_member", object_id=str(obj.pk), merchant_id=obj.merchant_id,
                     data={"via": "admin", "user": obj.user.get_username(), "role": obj.role})

    def delete_model(self, request, obj):
        audit_record(actor=staff_actor(request.user), action="member.deleted", object_type="merchant_member",
                     object_id=str(obj.pk), merchant_id=obj.merchant_id,
                     data={"via": "admin", "user": obj.user.get_username()})
        super().delete_model(request, obj)


# --- API clients (django-oauth-toolkit applications) ----------------------------------------------


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return (("yes", "Revoked"), ("no", "Active"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ("name", "redirect_uris", "allowed_scopes")

    def clean_allowed_scopes(self):
        scopes = self.cleaned_data["allowed_scopes"].split()
        unknown = sorted(set(scopes) - set(MERCHANT_SCOPES))
        if unknown:
            raise forms.ValidationError(f"Unknown scope(s): {' '.join(unknown)}. Known: {' '.join(MERCHANT_SCOPES)}.")
        return " ".join(s for s in MERCHANT_SCOPES if s in set(scopes))


class ApiClientAdmin(admin.ModelAdmin):
    """Registered by django-oauth-toolkit (OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]). The secret is never shown."""

    form = ApiClientForm
    list_display = ("public_id", "name", "merchant", "kind", "livemode", "client_id", "is_revoked", "last_used_at",
                    "created")
    list_filter = ("kind", "livemode", RevokedFilter, "authorization_grant_type", "created")
    search_fields = ("^public_id", "=client_id", "name", "^merchant__id", "merchant__name")
    date_hierarchy = "created"
    list_select_related = ("merchant",)
    readonly_fields = ("public_id", "client_id", "merchant", "kind", "livemode", "client_type",
                       "authorization_grant_type", "revoked_at", "last_used_at", "created", "updated")
    fieldsets = (
        (None, {"fields": ("public_id", "name", "merchant", "kind", "livemode", "revoked_at", "last_used_at")}),
        ("OAuth2", {"fields": ("client_id", "client_type", "authorization_grant_type", "allowed_scopes",
                               "redirect_uris")}),
        ("Dates", {"fields": ("created", "updated")}),
    )
    actions = ("revoke",)

    def has_add_permission(self, request):
        # Clients are created through services.api_client_create (portal, seed_demo), which shows the
        # secret once; the admin never sees or stores a secret in clear.
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: payments keep pointing to the client that made them

    @admin.display(boolean=True, description="revoked", ordering="revoked_at")
    def is_revoked(self, obj):
        return obj.revoked_at is not None

    def save_model(self, request, obj, form, change):
        changed = [f for f in form.changed_data if f != "allowed_scopes"]
        if changed:
            obj.save(update_fields=[*changed, "updated"])
        if "allowed_scopes" in form.changed_data:
            services.api_client_set_scopes(client=obj, scopes=obj.allowed_scopes.split())
        audit_record(actor=staff_actor(request.user), action="api_client.updated", object_type="api_client",
                     object_id=obj.public_id, merchant_id=obj.merchant_id,
                     data={"via": "admin", "fields": sorted(form.changed_data)})

    @admin.action(description="Revoke selected API clients and all their tokens", permissions=["change"])
    def revoke(self, request, queryset):
        run_service_action(
            self, request, queryset.select_related("merchant"),
            action="api_client.revoke",
            object_type="api_client",
            call=lambda client, actor: services.api_client_revoke(client=client),
            done_message="Revoked",
            id_of=lambda client: client.public_id,
        )


# --- Events and webhooks --------------------------------------------------------------------------
# Events, deliveries and attempts are records: read-only. Redelivery, enabling and disabling go
# through merchants.services; secrets are never shown.


class WebhookDeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fields = ("endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at", "delivered_at")
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "merchant", "livemode", "object_id", "sequence", "created")
    list_filter = ("livemode", "type", "created")
    search_fields = ("^id", "=object_id", "^merchant__id", "merchant__name")
    date_hierarchy = "created"
    list_select_related = ("merchant",)
    fields = ("id", "type", "merchant", "livemode", "object_type", "object_id", "sequence", "data", "created")
    readonly_fields = fields
    inlines = (WebhookDeliveryInline,)
    actions = ("redeliver",)

    @admin.action(description="Redeliver to every endpoint it goes to", permissions=["view"])
    def redeliver(self, request, queryset):
        run_service_action(
            self, request, queryset, action="event.redeliver", object_type="event",
            call=lambda event, actor: services.event_redeliver(merchant_id=event.merchant_id,
                                                               livemode=event.livemode, event_id=event.pk),
            done_message="Queued again",
        )


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("created", "status_code", "succeeded", "latency_ms", "error", "response_body")
    readonly_fields = fields
    show_change_link = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at", "delivered_at")
    list_filter = ("status", "created")
    search_fields = ("=event__id", "=endpoint__id", "^endpoint__merchant__id")
    list_select_related = ("event", "endpoint")
    fields = ("event", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at", "delivered_at",
              "created", "updated")
    readonly_fields = fields
    inlines = (WebhookAttemptInline,)
    actions = ("retry_now",)

    @admin.action(description="Deliver again now (same webhook-id)", permissions=["view"])
    def retry_now(self, request, queryset):
        run_service_action(
            self, request, queryset.select_related("event", "endpoint"), action="event.redeliver", object_type="event",
            call=lambda d, actor: services.event_redeliver(merchant_id=d.event.merchant_id, livemode=d.event.livemode,
                                                           event_id=d.event_id, endpoint_id=d.endpoint_id),
            done_message="Queued again",
            merchant_id_of=lambda d: d.event.merchant_id,
            id_of=lambda d: d.event_id,
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "url", "merchant", "livemode", "status", "disabled_reason", "failing_since", "created")
    list_filter = ("status", "livemode", "created")
    search_fields = ("^id", "url", "^merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    fields = ("id", "merchant", "livemode", "url", "description", "enabled_events", "status", "disabled_reason",
              "failing_since", "previous_secret_expires", "created", "updated")
    readonly_fields = fields
    actions = ("enable", "disable", "send_test")

    def _set_status(self, request, queryset, status, done):
        run_service_action(
            self, request, queryset, action=f"webhook_endpoint.{status}", object_type="webhook_endpoint",
            call=lambda e, actor: services.webhook_endpoint_update(merchant_id=e.merchant_id, livemode=e.livemode,
                                                                   endpoint_id=e.pk, status=status),
            done_message=done,
        )

    @admin.action(description="Enable selected endpoints", permissions=["view"])
    def enable(self, request, queryset):
        self._set_status(request, queryset, WebhookEndpointStatus.ENABLED, "Enabled")

    @admin.action(description="Disable selected endpoints", permissions=["view"])
    def disable(self, request, queryset):
        self._set_status(request, queryset, WebhookEndpointStatus.DISABLED, "Disabled")

    @admin.action(description="Send a test event", permissions=["view"])
    def send_test(self, request, queryset):
        run_service_action(
            self, request, queryset, action="webhook_endpoint.test", object_type="webhook_endpoint",
            call=lambda e, actor: services.webhook_endpoint_send_test(merchant_id=e.merchant_id,
                                                                      livemode=e.livemode, endpoint_id=e.pk),
            done_message="Test event queued",
        )


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ("created", "delivery", "status_code", "succeeded", "latency_ms", "error")
    list_filter = ("succeeded", "status_code", "created")
    search_fields = ("=delivery__event__id", "=delivery__endpoint__id")
    list_select_related = ("delivery",)
    fields = ("delivery", "created", "status_code", "succeeded", "latency_ms", "error", "response_body")
    readonly_fields = fields


@admin.register(EventSequence)
class EventSequenceAdmin(ReadOnlyAdmin):
    list_display = ("object_id", "last")
    search_fields = ("=object_id",)


@admin.register(MerchantNotice)
class MerchantNoticeAdmin(ReadOnlyAdmin):
    list_display = ("created", "merchant", "kind", "object_id", "message", "read_at")
    list_filter = ("kind", "created")
    search_fields = ("^merchant__id", "merchant__name", "=object_id")
    list_select_related = ("merchant",)
    fields = ("merchant", "kind", "object_id", "message", "created", "read_at")
    readonly_fields = fields


@admin.register(MerchantInvitation)
class MerchantInvitationAdmin(ReadOnlyAdmin):
    """Team invitations sent from the portal (the token itself is never stored, only its hash)."""

    list_display = ("email", "merchant", "role", "created", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role", "created")
    search_fields = ("email", "^merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    fields = ("id", "merchant", "email", "role", "invited_by", "created", "expires_at", "accepted_at", "accepted_by",
              "revoked_at")
    readonly_fields = fields


from . import fee_admin  # noqa: E402, F401  (fee plans, issue #3)
