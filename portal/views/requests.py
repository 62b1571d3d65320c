"""The API request log: recent /v1/ calls of the merchant's clients in this mode (core.request_log)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from core.request_log import api_requests_for_merchant
from merchants import selectors as merchant_selectors

from ..access import portal_view
from .listing import keyset_page

METHODS = ("GET", "POST", "PATCH", "DELETE")


@portal_view("view")
def request_log(request):
    ctx = request.portal
    clients = {c.public_id: c for c in merchant_selectors.api_clients_for_merchant(merchant_id=ctx.merchant.pk)
               if c.livemode == ctx.livemode}
    status = request.GET.get("status") if request.GET.get("status") in ("ok", "error") else None
    method = request.GET.get("method") if request.GET.get("method") in METHODS else None
    client = request.GET.get("client") if request.GET.get("client") in clients else None
    qs = api_requests_for_merchant(merchant_id=ctx.merchant.pk, livemode=ctx.livemode, status=status,
                                   client_id=client, method=method)
    page = keyset_page(request, qs, prefix="req", limit=50)
    for row in page.rows:
        row.client = clients.get(row.client_id)
    return render(request, "portal/requests/list.html", {
        "page": page, "clients": sorted(clients.values(), key=lambda c: c.name or c.client_id), "status": status or "",
        "method": method or "", "client": client or "", "methods": METHODS,
        "filtering": bool(status or method or client), "retention_days": settings.API_REQUEST_LOG_RETENTION_DAYS})
