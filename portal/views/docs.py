"""Docs: a quick-start filled with the merchant's own test client id (never a secret)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse

from core.scopes import SCOPES
from merchants import account_selectors

from ..access import portal_view

PLACEHOLDER_CLIENT_ID = "YOUR_TEST_CLIENT_ID"


@portal_view("view")
def docs(request):
    client = account_selectors.first_test_client(merchant_id=request.portal.merchant.pk)
    scopes = [s for s in ("payments:read", "payments:write", "refunds:write")
              if client is None or s in client.allowed_scope_set]
    return render(request, "portal/docs.html", {
        "client": client,
        "client_id": client.client_id if client else PLACEHOLDER_CLIENT_ID,
        "base_url": settings.BASE_URL.rstrip("/"),
        "token_scope": " ".join(scopes),
        "scopes": SCOPES,
        "swagger_url": reverse("swagger-ui"),
        "redoc_url": reverse("redoc"),
        "currency": request.portal.merchant.default_currency,
    })
