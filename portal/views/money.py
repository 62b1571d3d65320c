"""Money: balances, balance transactions, settlements (with their reconciliation CSV) and payouts.

Reads the same selectors as GET /v1/balance, /v1/balance_transactions, /v1/settlements and /v1/payouts;
the CSV is the very report of GET /v1/settlements/{id}/report (payments.settlement_report).
"""

from __future__ import annotations

from django.shortcuts import render

from ledger.constants import EntryType
from payments import settlement_selectors as selectors
from payments.constants import PayoutStatus
from payments.settlement_report import settlement_report_response

from ..access import portal_view
from .listing import keyset_page, not_found

SETTLEMENT_LINES_SHOWN = 50


def _mine(request) -> dict:
    return {"merchant_id": request.portal.merchant.pk, "livemode": request.portal.livemode}


@portal_view("view")
def balance(request):
    entry_type = request.GET.get("type") or None
    if entry_type not in EntryType.values:
        entry_type = None
    qs = selectors.balance_transactions_for_merchant(**_mine(request), type=entry_type)
    page = keyset_page(request, qs, prefix="txn")
    available_on = selectors.available_on_for(page.rows)
    for entry in page.rows:
        entry.available_on = available_on.get(entry.pk)
    return render(request, "portal/money/balance.html", {
        "balances": sorted(selectors.balance_for_merchant(**_mine(request)).items()),
        "page": page, "types": EntryType.choices, "type": entry_type or "",
    })


@portal_view("view")
def settlement_list(request):
    page = keyset_page(request, selectors.settlements_for_merchant(**_mine(request)), prefix="stl")
    return render(request, "portal/money/settlements.html", {"page": page})


@portal_view("view")
def settlement_detail(request, settlement_id):
    settlement = selectors.settlement_get(**_mine(request), settlement_id=settlement_id)
    if settlement is None:
        return not_found(request, "No such settlement in this mode.")
    lines = list(selectors.settlement_lines(settlement_id=settlement.pk)[: SETTLEMENT_LINES_SHOWN + 1])
    return render(request, "portal/money/settlement_detail.html", {
        "settlement": settlement, "payout": getattr(settlement, "payout", None),
        "lines": lines[:SETTLEMENT_LINES_SHOWN], "more_lines": len(lines) > SETTLEMENT_LINES_SHOWN,
        "line_count": settlement.payment_count + settlement.refund_count,
    })


@portal_view("view")
def settlement_report(request, settlement_id):
    settlement = selectors.settlement_get(**_mine(request), settlement_id=settlement_id)
    if settlement is None:
        return not_found(request, "No such settlement in this mode.")
    return settlement_report_response(settlement)


@portal_view("view")
def payout_list(request):
    status = request.GET.get("status") or None
    if status not in PayoutStatus.values:
        status = None
    page = keyset_page(request, selectors.payouts_for_merchant(**_mine(request), status=status), prefix="po")
    return render(request, "portal/money/payouts.html", {"page": page, "statuses": PayoutStatus.choices,
                                                         "status": status or ""})
