"""Fee plans in the back office (imported by merchants/admin.py): staff set them; they apply to new captures."""

from django.contrib import admin

from .fee_models import FeePlan


@admin.register(FeePlan)
class FeePlanAdmin(admin.ModelAdmin):
    list_display = ("merchant", "currency", "percent_bps", "fixed_amount", "updated")
    list_filter = ("currency",)
    search_fields = ("^merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    autocomplete_fields = ()
    raw_id_fields = ("merchant",)
