"""Reads for balances, balance transactions, settlements and payouts (the API and the portal)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from ledger import selectors as ledger_selectors

from .models import Payout, Settlement, SettlementLine
from .settlement import default_cutoff


def balance_for_merchant(*, merchant_id: str, livemode: bool) -> dict[str, dict[str, int]]:
    return ledger_selectors.balances_for_merchant(merchant_id=merchant_id, livemode=livemode)


def balance_transactions_for_merchant(*, merchant_id: str, livemode: bool, type: str | None = None,
                                      source: str | None = None):
    """The merchant's journal entries, each with the settlement that made it available (if any)."""
    by_item = SettlementLine.objects.filter(pk=OuterRef("source")).values("settlement_id")  # a payment or a refund
    by_payout = Payout.objects.filter(pk=OuterRef("source")).values("settlement_id")
    by_settlement = Settlement.objects.filter(pk=OuterRef("source")).values("pk")
    return ledger_selectors.entries_for_merchant(merchant_id=merchant_id, livemode=livemode, type=type,
                                                 source=source).annotate(
        settlement_id=Coalesce(Subquery(by_item[:1]), Subquery(by_payout[:1]),
                               Subquery(by_settlement[:1]), output_field=CharField()))


def available_on_for(entries) -> dict[str, object]:
    """{entry id: date}: the settlement day if settled, else the next settlement day due."""
    periods = dict(Settlement.objects.filter(pk__in={e.settlement_id for e in entries if e.settlement_id})
                   .values_list("pk", "period"))
    out = {}
    for entry in entries:
        if entry.settlement_id in periods:
            out[entry.pk] = periods[entry.settlement_id]
        elif entry.type not in ("payment", "refund", "refund_failure"):
            out[entry.pk] = entry.created.date()
        else:
            day = entry.created.date()
            out[entry.pk] = day if entry.created < default_cutoff(day) else day + timedelta(days=1)
    return out


def settlements_for_merchant(*, merchant_id: str, livemode: bool):
    return Settlement.objects.filter(merchant_id=merchant_id, livemode=livemode).select_related("payout")


def settlement_get(*, merchant_id: str, livemode: bool, settlement_id: str) -> Settlement | None:
    return settlements_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=settlement_id).first()


def settlement_lines(*, settlement_id: str):
    return SettlementLine.objects.filter(settlement_id=settlement_id).order_by("occurred_at", "pk")


def payouts_for_merchant(*, merchant_id: str, livemode: bool, status: str | None = None):
    qs = Payout.objects.filter(merchant_id=merchant_id, livemode=livemode)
    return qs.filter(status=status) if status else qs


def payout_get(*, merchant_id: str, livemode: bool, payout_id: str) -> Payout | None:
    return payouts_for_merchant(merchant_id=merchant_id, livemode=livemode).filter(pk=payout_id).first()
