"""Back office for the ledger: everything read-only (postings are immutable; corrections are
reversing entries posted by services). Verification runs show whether the invariants hold."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyInline, money_display

from .models import Account, JournalEntry, Posting, VerificationRun
from .selectors import posted_balance


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ("account", "amount", "currency")
    readonly_fields = fields
    show_change_link = False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "purpose", "type", "merchant", "holder", "currency", "livemode", "balance_display",
                    "allow_negative")
    list_filter = ("purpose", "type", "currency", "livemode")
    search_fields = ("^merchant__id", "merchant__name", "=holder")
    list_select_related = ("merchant",)

    @admin.display(description="balance")
    def balance_display(self, obj):
        # Platform accounts keep no cached balance: summed here (a handful of rows).
        balance = obj.balance if obj.owned else posted_balance(obj)
        return money_display(balance, obj.currency)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "key", "merchant", "amount", "fee", "net", "currency", "livemode", "created")
    list_filter = ("type", "currency", "livemode")
    search_fields = ("^id", "^key", "^source", "^merchant__id")
    inlines = [PostingInline]


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("created", "ok", "problem_count")
    list_filter = ("ok",)
    readonly_fields = ("created", "ok", "problems", "checked")

    @admin.display(description="problems")
    def problem_count(self, obj):
        return len(obj.problems)
