"""Back office for card issuing (#4): card operations staff.

- Card programs are set up here (add form; the service checks the BIN and derives the brand), then
  read-only.
- Cards are found by last 4 (or BIN), cardholder name or email, card account or merchant, and frozen,
  unfrozen, blocked, reissued, closed, activated or given new spending limits through actions that
  call the services (each attempt audited). Card accounts are funded or get a new credit limit the
  same way. Nothing else is editable.
- No page shows a card number or a CVC: BIN******last4 only (cards.admin `PanSafeSearchMixin` keeps
  a number typed into the search box out of the page and its URL).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError as DjangoValidationError
from django.template.response import TemplateResponse

from core.admin import ReadOnlyAdmin, ReadOnlyInline, money_display, run_service_action
from core.audit import audit_record, staff_actor
from core.errors import ApplicationError

from . import issuing, issuing_selectors
from .admin import PanSafeSearchMixin
from .constants import BlockReason
from .issuing_models import (
    CardAccount,
    Cardholder,
    CardProgram,
    IssuedCard,
    IssuedCardEvent,
    IssuingAuthorization,
    IssuingAuthorizationEvent,
)

# --- Actions that need input: one intermediate page --------------------------------------------------------


class BlockForm(forms.Form):
    reason = forms.ChoiceField(choices=BlockReason.choices)


class SpendingControlsForm(forms.Form):
    """Replaces all five controls of the selected cards. Blank: no limit / any."""

    per_transaction_limit = forms.IntegerField(required=False, min_value=1, help_text="minor units")
    daily_limit = forms.IntegerField(required=False, min_value=1, help_text="minor units, per UTC day")
    monthly_limit = forms.IntegerField(required=False, min_value=1, help_text="minor units, per UTC month")
    allowed_currencies = forms.CharField(required=False, help_text="comma-separated ISO 4217 codes, e.g. EUR")
    allowed_countries = forms.CharField(required=False, help_text="comma-separated alpha-2 codes, e.g. DE, FR")

    def controls(self) -> dict:
        data = self.cleaned_data
        split = lambda text: [p.strip() for p in (text or "").split(",") if p.strip()]  # noqa: E731
        return {"per_transaction_limit": data["per_transaction_limit"], "daily_limit": data["daily_limit"],
                "monthly_limit": data["monthly_limit"], "allowed_currencies": split(data["allowed_currencies"]),
                "allowed_countries": split(data["allowed_countries"])}


class FundForm(forms.Form):
    amount = forms.IntegerField(min_value=1, help_text="minor units of the account's currency (cents)")
    reference = forms.CharField(max_length=64, help_text="the incoming transfer's reference: funds once per "
                                                         "reference")


class CreditLimitForm(forms.Form):
    credit_limit = forms.IntegerField(min_value=0, help_text="minor units of the account's currency")


def form_action(modeladmin, request, queryset, *, form_class, title: str, action: str, object_type: str, call,
                done_message: str):
    """An admin action that asks for input first: the form page, then `call(obj, actor, cleaned_data)` for
    each selected object through run_service_action (audited, errors reported per object)."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        run_service_action(modeladmin, request, queryset, action=action, object_type=object_type,
                           call=lambda obj, actor: call(obj, actor, form), done_message=done_message)
        return None
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta, "title": title,
               "objects": list(queryset), "form": form, "action": request.POST.get("action", "")}
    return TemplateResponse(request, "admin/cards/issuing_action.html", context)


# --- Programs ---------------------------------------------------------------------------------------------------


class CardProgramForm(forms.ModelForm):
    class Meta:
        model = CardProgram
        fields = ("merchant", "livemode", "name", "bin", "currency", "type", "default_credit_limit")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data.update(issuing.card_program_clean(
                name=data["name"], bin=data["bin"], currency=data["currency"], type=data["type"],
                default_credit_limit=data.get("default_credit_limit") or 0))
        except ApplicationError as exc:
            field = exc.param if exc.param in self.fields else None
            raise DjangoValidationError({field: exc.message} if field else exc.message) from None
        if CardProgram.objects.filter(bin=data["bin"]).exists():
            raise DjangoValidationError({"bin": "This BIN is already used by another card program."})
        return data


@admin.register(CardProgram)
class CardProgramAdmin(admin.ModelAdmin):
    form = CardProgramForm
    list_display = ("id", "name", "merchant", "livemode", "bin", "brand", "currency", "type", "created")
    list_filter = ("type", "livemode", "brand", "currency")
    search_fields = ("^id", "=bin", "name", "^merchant__id", "merchant__name")
    list_select_related = ("merchant",)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)  # created once, then read-only

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        program = issuing.card_program_create(
            merchant_id=data["merchant"].pk, livemode=data["livemode"], name=data["name"], bin=data["bin"],
            currency=data["currency"], type=data["type"], default_credit_limit=data["default_credit_limit"] or 0)
        obj.pk, obj.brand, obj.created = program.pk, program.brand, program.created
        obj._state.adding = False
        audit_record(actor=staff_actor(request.user), action="issuing_program.created", object_type="issuing_program",
                     object_id=program.pk, merchant_id=program.merchant_id, data={"via": "admin", "bin": program.bin})


# --- Cardholders and accounts ------------------------------------------------------------------------------------


class IssuedCardInline(ReadOnlyInline):
    model = IssuedCard
    fk_name = "cardholder"
    fields = ("id", "masked_number", "type", "status", "account", "created")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vault_card").defer("vault_card__pan_ciphertext")

    @admin.display(description="number")
    def masked_number(self, obj):
        return obj.vault_card.masked


class AccountCardInline(IssuedCardInline):
    fk_name = "account"
    fields = ("id", "masked_number", "type", "status", "cardholder", "created")
    readonly_fields = fields


@admin.register(Cardholder)
class CardholderAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "email", "merchant", "livemode", "billing_country", "created")
    list_filter = ("livemode", "billing_country", "created")
    search_fields = ("^id", "name", "=email", "=phone_number", "^merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    fields = ("id", "merchant", "livemode", "name", "email", "phone_number", "billing_line1", "billing_line2",
              "billing_city", "billing_state", "billing_postal_code", "billing_country", "created")
    readonly_fields = fields
    inlines = (IssuedCardInline,)


@admin.register(CardAccount)
class CardAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "cardholder", "merchant", "type", "currency", "available_display", "held_display",
                    "credit_limit_display", "livemode", "created")
    list_filter = ("type", "currency", "livemode")
    search_fields = ("^id", "cardholder__name", "=cardholder__email", "^cardholder__id", "^merchant__id")
    fields = ("id", "merchant", "livemode", "program", "cardholder", "type", "currency", "available_display",
              "held_display", "credit_limit_display", "created")
    readonly_fields = fields
    inlines = (AccountCardInline,)
    actions = ("fund", "set_credit_limit")

    def get_queryset(self, request):
        return issuing_selectors.with_balances(
            super().get_queryset(request).select_related("merchant", "cardholder", "program"), account_field="id")

    @admin.display(description="available")
    def available_display(self, obj):
        return money_display(obj.account_available, obj.currency)

    @admin.display(description="held")
    def held_display(self, obj):
        return money_display(obj.account_held, obj.currency)

    @admin.display(description="credit limit")
    def credit_limit_display(self, obj):
        return money_display(obj.credit_limit, obj.currency) if obj.type == "credit" else "-"

    @admin.action(description="Fund: credit money received to the selected debit / prepaid accounts")
    def fund(self, request, queryset):
        return form_action(
            self, request, queryset, form_class=FundForm, title="Fund card accounts", action="card_account.fund",
            object_type="card_account", done_message="Funded",
            call=lambda account, actor, form: issuing.card_account_fund(
                account_id=account.pk, amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"], actor=actor))

    @admin.action(description="Change the credit limit of the selected credit accounts")
    def set_credit_limit(self, request, queryset):
        return form_action(
            self, request, queryset, form_class=CreditLimitForm, title="Change credit limits",
            action="card_account.credit_limit", object_type="card_account", done_message="Credit limit changed",
            call=lambda account, actor, form: issuing.card_account_set_credit_limit(
                account_id=account.pk, credit_limit=form.cleaned_data["credit_limit"], actor=actor))


# --- Cards ------------------------------------------------------------------------------------------------------------


class IssuedCardEventInline(ReadOnlyInline):
    model = IssuedCardEvent
    fields = ("id", "created", "type", "from_status", "to_status", "reason", "data", "actor")
    readonly_fields = fields
    show_change_link = False


class AuthorizationInline(ReadOnlyInline):
    model = IssuingAuthorization
    fk_name = "card"
    fields = ("id", "created", "amount", "currency", "status", "decline_code", "amount_captured", "expires_at")
    readonly_fields = fields


@admin.register(IssuedCard)
class IssuedCardAdmin(PanSafeSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "masked_number", "cardholder", "status", "type", "account", "expiry", "livemode",
                    "created")
    list_filter = ("status", "type", "livemode", "program")
    search_fields = ("=vault_card__last4", "=vault_card__bin", "^id", "cardholder__name", "=cardholder__email",
                     "^cardholder__id", "^account__id", "^merchant__id", "merchant__name")
    date_hierarchy = "created"
    fieldsets = (
        (None, {"fields": ("id", "merchant", "livemode", "program", "account", "cardholder", "type", "status",
                           "block_reason", "replacement_for", "created", "updated")}),
        ("Card (never the number or the CVC)", {"fields": ("masked_number", "brand", "expiry")}),
        ("Spending controls", {"fields": ("limit_per_transaction", "limit_daily", "limit_monthly",
                                          "allowed_currencies", "allowed_countries")}),
    )
    readonly_fields = ("id", "merchant", "livemode", "program", "account", "cardholder", "type", "status",
                       "block_reason", "replacement_for", "created", "updated", "masked_number", "brand", "expiry",
                       "limit_per_transaction", "limit_daily", "limit_monthly", "allowed_currencies",
                       "allowed_countries")
    inlines = (IssuedCardEventInline, AuthorizationInline)
    actions = ("activate", "freeze", "unfreeze", "block", "reissue", "close", "set_spending_controls")

    def get_queryset(self, request):
        return (super().get_queryset(request)
                .select_related("vault_card", "cardholder", "account", "merchant", "program")
                .defer("vault_card__pan_ciphertext"))

    @admin.display(description="number")
    def masked_number(self, obj):
        return f"{obj.vault_card.brand} {obj.vault_card.masked}"

    @admin.display(description="brand")
    def brand(self, obj):
        return obj.vault_card.brand

    @admin.display(description="expiry")
    def expiry(self, obj):
        return f"{obj.vault_card.exp_month:02d}/{obj.vault_card.exp_year}"

    def _simple(self, request, queryset, *, service, verb: str, done: str):
        run_service_action(self, request, queryset, action=f"issued_card.{verb}", object_type="issued_card",
                           call=lambda card, actor: service(card_id=card.pk, actor=actor), done_message=done)

    @admin.action(description="Activate the selected cards (inactive -> active)")
    def activate(self, request, queryset):
        self._simple(request, queryset, service=issuing.card_activate, verb="activate", done="Activated")

    @admin.action(description="Freeze the selected cards")
    def freeze(self, request, queryset):
        self._simple(request, queryset, service=issuing.card_freeze, verb="freeze", done="Frozen")

    @admin.action(description="Unfreeze the selected cards")
    def unfreeze(self, request, queryset):
        self._simple(request, queryset, service=issuing.card_unfreeze, verb="unfreeze", done="Unfrozen")

    @admin.action(description="Close the selected cards")
    def close(self, request, queryset):
        self._simple(request, queryset, service=issuing.card_close, verb="close", done="Closed")

    @admin.action(description="Block the selected cards for good (lost, stolen, damaged)")
    def block(self, request, queryset):
        return form_action(self, request, queryset, form_class=BlockForm, title="Block cards",
                           action="issued_card.block", object_type="issued_card", done_message="Blocked",
                           call=lambda card, actor, form: issuing.card_block(
                               card_id=card.pk, reason=form.cleaned_data["reason"], actor=actor))

    @admin.action(description="Reissue the selected cards (new card on the same account; the old one blocked)")
    def reissue(self, request, queryset):
        return form_action(self, request, queryset, form_class=BlockForm, title="Reissue cards",
                           action="issued_card.reissue", object_type="issued_card", done_message="Reissued",
                           call=lambda card, actor, form: issuing.card_reissue(
                               card_id=card.pk, reason=form.cleaned_data["reason"], actor=actor))

    @admin.action(description="Set the spending controls of the selected cards")
    def set_spending_controls(self, request, queryset):
        return form_action(self, request, queryset, form_class=SpendingControlsForm, title="Set spending controls",
                           action="issued_card.spending_controls", object_type="issued_card",
                           done_message="Spending controls set",
                           call=lambda card, actor, form: issuing.card_set_spending_controls(
                               card_id=card.pk, spending_controls=form.controls(), actor=actor))


@admin.register(IssuedCardEvent)
class IssuedCardEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "card", "type", "from_status", "to_status", "reason", "actor", "created")
    list_filter = ("type", "to_status", "created")
    search_fields = ("^id", "^card__id", "actor")
    fields = ("id", "card", "type", "from_status", "to_status", "reason", "data", "actor", "created")
    readonly_fields = fields


# --- Authorizations ----------------------------------------------------------------------------------------------


class AuthorizationEventInline(ReadOnlyInline):
    model = IssuingAuthorizationEvent
    fields = ("id", "created", "type", "from_status", "to_status", "amount", "reference", "actor")
    readonly_fields = fields
    show_change_link = False


@admin.register(IssuingAuthorization)
class IssuingAuthorizationAdmin(PanSafeSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "card", "amount_display", "status", "approved", "decline_code", "acquiring_merchant",
                    "livemode", "created", "expires_at")
    list_filter = ("status", "approved", "decline_code", "livemode", "created")
    search_fields = ("^id", "=reference", "^card__id", "=card__vault_card__last4", "^account__id")
    date_hierarchy = "created"
    list_select_related = ("card", "acquiring_merchant")
    fields = ("id", "card", "account", "livemode", "reference", "acquiring_merchant", "merchant_country",
              "amount_display", "approved", "decline_code", "decline_detail", "status", "amount_captured",
              "amount_refunded", "expires_at", "created", "updated")
    readonly_fields = fields
    inlines = (AuthorizationEventInline,)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(IssuingAuthorizationEvent)
class IssuingAuthorizationEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "authorization", "type", "from_status", "to_status", "amount", "reference", "created")
    list_filter = ("type", "created")
    search_fields = ("^id", "^authorization__id", "=reference")
    fields = ("id", "authorization", "type", "from_status", "to_status", "amount", "reference", "actor", "created")
    readonly_fields = fields

