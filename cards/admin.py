"""Back office for the card vault. Shows BIN******last4 only: never the ciphertext, never a PAN.

Cards are created by tokenization and payments, and their card data is destroyed through
`services.card_delete`: the admin only looks. `PanSafeSearchMixin` keeps a card number typed
into the search box out of the page and its URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.admin import ReadOnlyAdmin

from .models import Card
from .vault import luhn_valid

_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){12,}")


def mask_pans(text: str) -> tuple[str, bool]:
    """Replace every Luhn-valid 13-19 digit number in `text` by BIN******last4. Returns (text, masked?)."""
    masked = False

    def _mask(match):
        nonlocal masked
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            masked = True
            return f"{digits[:6]}******{digits[-4:]}"
        return match.group()

    return _DIGIT_RUN.sub(_mask, text), masked


class PanSafeSearchMixin:
    """A card number typed into the admin search is never searched, echoed or kept in the URL."""

    def changelist_view(self, request, extra_context=None):
        query = request.GET.get("q", "")
        cleaned, masked = mask_pans(query)
        if masked:
            self.message_user(
                request,
                "Full card numbers are never searchable or shown. Search by the last 4 digits or the BIN.",
                level=messages.WARNING,
            )
            params = request.GET.copy()
            params["q"] = cleaned
            return HttpResponseRedirect(f"{request.path}?{urlencode(list(params.lists()), doseq=True)}")
        return super().changelist_view(request, extra_context)


def card_masked(card: Card | None) -> str:
    if card is None:
        return "-"
    return f"{card.brand} {card.masked}"


class DeletedFilter(admin.SimpleListFilter):
    title = "card data"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Stored (encrypted)"), ("yes", "Destroyed"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Card)
class CardAdmin(PanSafeSearchMixin, ReadOnlyAdmin):
    list_display = ("id", "merchant", "brand", "masked_number", "expiry", "livemode", "reusable", "key_version",
                    "created", "deleted_at")
    list_filter = ("brand", "livemode", "reusable", DeletedFilter, "key_version", "created")
    search_fields = ("^id", "=last4", "=bin", "=fingerprint", "^merchant__id", "merchant__name")
    date_hierarchy = "created"
    list_select_related = ("merchant",)
    # Never pan_ciphertext: not even the encrypted bytes are shown.
    fields = ("id", "merchant", "livemode", "brand", "masked_number", "expiry", "name", "fingerprint",
              "key_version", "reusable", "created", "deleted_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("pan_ciphertext")

    @admin.display(description="number")
    def masked_number(self, obj):
        return obj.masked

    @admin.display(description="expiry")
    def expiry(self, obj):
        return f"{obj.exp_month:02d}/{obj.exp_year}"


from . import issuing_admin  # noqa: E402, F401  (card issuing, #4: programs, cardholders, accounts, cards)
