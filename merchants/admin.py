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
from .constants import MerchantStatus
from .models import ApiClient, Merchant, MerchantMember, MerchantStatusEvent

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
    list_display = ("user", "merchant", "role", "created")
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
