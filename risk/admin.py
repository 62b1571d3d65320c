"""Back office for the risk engine: assessments (read-only, with reasons), lists, rules (validated when
saved, with a backtest page), merchant limits, and the statistics the engine keeps.

The review queue itself (payments in requires_review, approve / reject) is in payments/admin.py:
those actions call payments services, which risk may not import.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin, money_display
from core.audit import staff_actor
from core.errors import ApplicationError

from . import rules, services
from .models import AmountStats, Assessment, ListEntry, MerchantLimit, Rule, VelocityBucket


def reasons_html(reasons) -> str:
    if not reasons:
        return "-"
    return format_html("<ul style='margin:0'>{}</ul>", format_html_join(
        "", "<li><code>{}</code> {}</li>", ((r.get("rule", ""), r.get("message", "")) for r in reasons)))


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "payment_id", "merchant_id", "amount_display", "score", "decision", "review_outcome",
                    "livemode", "created")
    list_filter = ("decision", "review_outcome", "livemode", "currency", "card_country", "ip_country", "created")
    search_fields = ("^id", "=payment_id", "=merchant_id", "=card_fingerprint", "=card_bin", "=email_domain", "=ip")
    date_hierarchy = "created"
    show_full_result_count = False
    fields = ("id", "payment_id", "merchant_id", "livemode", "amount_display", "score", "decision", "reasons_display",
              "shadow_display", "errors", "card_bin", "card_last4", "card_brand", "card_country", "card_fingerprint",
              "customer_email", "email_domain", "ip", "ip_country", "merchant_country", "signals", "review_outcome",
              "review_note", "reviewed_by", "reviewed_at", "created")
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="reasons")
    def reasons_display(self, obj):
        return reasons_html(obj.reasons)

    @admin.display(description="shadow rules matched (not acted on)")
    def shadow_display(self, obj):
        return reasons_html(obj.shadow_matches)


class ListEntryForm(forms.ModelForm):
    class Meta:
        model = ListEntry
        fields = ("kind", "value", "action", "merchant", "livemode", "note")

    def clean(self):
        data = super().clean()
        if data.get("kind") and data.get("value"):
            try:
                data["value"] = services.list_value_normalize(kind=data["kind"], value=data["value"])
            except ApplicationError as exc:
                raise DjangoValidationError({"value": exc.message}) from None
        return data


class ConfigAdminMixin:
    """Lists, rules and limits: every change makes every process reload the engine's configuration."""

    def save_model(self, request, obj, form, change):
        if hasattr(obj, "created_by") and not obj.created_by:
            obj.created_by = staff_actor(request.user)
        super().save_model(request, obj, form, change)
        services.config_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.config_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.config_changed()


@admin.register(ListEntry)
class ListEntryAdmin(ConfigAdminMixin, admin.ModelAdmin):
    form = ListEntryForm
    list_display = ("id", "action", "kind", "value", "merchant", "livemode", "note", "created_by", "created")
    list_filter = ("action", "kind", "livemode", "created")
    search_fields = ("=value", "^id", "^merchant__id", "note")
    autocomplete_fields = ()
    readonly_fields = ("created_by", "created")
    list_select_related = ("merchant",)


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ("name", "expression", "action", "message", "merchant", "enabled", "shadow", "position")
        widgets = {"expression": forms.Textarea(attrs={"rows": 3, "cols": 100, "style": "font-family:monospace"})}

    def clean_expression(self):
        expression = self.cleaned_data["expression"]
        try:
            rules.validate(expression)
        except rules.RuleError as exc:
            raise DjangoValidationError(str(exc)) from None
        return expression


@admin.register(Rule)
class RuleAdmin(ConfigAdminMixin, admin.ModelAdmin):
    form = RuleForm
    list_display = ("name", "action", "enabled", "shadow", "merchant", "position", "expression", "updated")
    list_filter = ("action", "enabled", "shadow")
    search_fields = ("name", "expression", "^id")
    readonly_fields = ("id", "backtest_link", "created_by", "created", "updated")
    list_select_related = ("merchant",)
    ordering = ("action", "position", "id")

    @admin.display(description="backtest")
    def backtest_link(self, obj):
        if not obj or not obj.pk:
            return "Save the rule (switched off, as a draft) to backtest it."
        url = reverse("admin:risk_rule_backtest", args=[obj.pk])
        return format_html('<a class="button" href="{}?days=30">Backtest over the last 30 days</a>', url)

    def get_urls(self):
        return [path("<str:rule_id>/backtest/", self.admin_site.admin_view(self.backtest_view),
                     name="risk_rule_backtest"), *super().get_urls()]

    def backtest_view(self, request, rule_id):
        rule = get_object_or_404(Rule, pk=rule_id)
        if not self.has_view_permission(request, rule):
            raise DjangoValidationError("Not allowed")
        try:
            days = max(1, min(365, int(request.GET.get("days", 30))))
        except ValueError:
            days = 30
        try:
            result = services.rule_backtest(expression=rule.expression, action=rule.action, days=days,
                                            merchant_id=rule.merchant_id)
        except rules.RuleError as exc:
            self.message_user(request, f"The rule cannot be backtested: {exc}", level=messages.ERROR)
            result = None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "rule": rule, "days": days,
                   "result": result, "title": f"Backtest: {rule.name}",
                   "volumes": [(c, money_display(v, c)) for c, v in sorted((result.volume if result else {}).items())],
                   "examples": [{**e, "amount_display": money_display(e["amount"], e["currency"])}
                                for e in (result.examples if result else [])]}
        return TemplateResponse(request, "admin/risk/rule_backtest.html", context)


@admin.register(MerchantLimit)
class MerchantLimitAdmin(ConfigAdminMixin, admin.ModelAdmin):
    list_display = ("merchant", "currency", "max_amount", "max_count_1h", "max_volume_1h", "action", "updated")
    list_filter = ("action", "currency")
    search_fields = ("^merchant__id", "merchant__name")
    list_select_related = ("merchant",)


@admin.register(AmountStats)
class AmountStatsAdmin(ReadOnlyAdmin):
    list_display = ("merchant_id", "livemode", "currency", "count", "mean", "stddev")
    search_fields = ("=merchant_id",)
    list_filter = ("livemode", "currency")
    fields = ("merchant_id", "livemode", "currency", "count", "mean", "m2", "stddev")
    readonly_fields = fields

    @admin.display(description="standard deviation")
    def stddev(self, obj):
        return round((obj.m2 / (obj.count - 1)) ** 0.5, 2) if obj.count > 1 else 0


@admin.register(VelocityBucket)
class VelocityBucketAdmin(ReadOnlyAdmin):
    list_display = ("key", "bucket", "stripe", "count", "amount")
    search_fields = ("=key",)
    show_full_result_count = False
    fields = list_display
    readonly_fields = fields
