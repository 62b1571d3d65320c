"""Docs quick-start, and the bank's approval opening live mode."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from merchants.constants import MemberRole, MerchantStatus
from merchants.models import MerchantStatusEvent
from merchants.tests.factories import make_client

from .helpers import make_member

pytestmark = pytest.mark.django_db


def test_docs_use_the_merchants_own_test_client_id_never_a_secret(client, viewer, merchant):
    live, live_secret = make_client(merchant, name="Live one", livemode=True)
    test, test_secret = make_client(merchant, name="Shop backend")
    client.force_login(viewer)  # every role reads the docs
    response = client.get(reverse("portal:docs"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'export CLIENT_ID="{test.client_id}"' in page
    assert live.client_id not in page
    assert test_secret not in page and live_secret not in page
    assert "http://127.0.0.1:8000/oauth/token/" in page and "/v1/payments" in page
    assert 'href="/v1/docs/"' in page and 'href="/v1/redoc/"' in page


def test_docs_without_a_test_client(owner_client):
    page = owner_client.get(reverse("portal:docs")).content.decode()
    assert 'export CLIENT_ID="YOUR_TEST_CLIENT_ID"' in page
    assert f'href="{reverse("portal:credentials")}">Create one</a>' in page


def test_bank_staff_approve_in_the_admin_and_live_mode_opens(admin_client, client, pending_merchant):
    owner = make_member(pending_merchant, MemberRole.OWNER, email="o@pending.example")
    client.force_login(owner)
    assert client.post(reverse("portal:credentials"), {"name": "L", "mode": "live", "scopes": ["payments:read"]}
                       ).status_code == 400
    response = admin_client.post(reverse("admin:merchants_merchant_changelist"),
                                 {"action": "activate", ACTION_CHECKBOX_NAME: [pending_merchant.pk]})
    assert response.status_code == 302
    pending_merchant.refresh_from_db()
    assert pending_merchant.status == MerchantStatus.ACTIVE
    assert MerchantStatusEvent.objects.filter(merchant=pending_merchant, to_status="active").exists()
    page = client.get(reverse("portal:credentials")).content.decode()
    assert "waiting for the bank" not in page
    assert client.post(reverse("portal:credentials"), {"name": "L", "mode": "live", "scopes": ["payments:read"]}
                       ).status_code == 200


def test_member_admin_shows_verification(admin_client, merchant):
    make_member(merchant, email="unverified@shop.example", verified=False)
    page = admin_client.get(reverse("admin:merchants_merchantmember_changelist")).content.decode()
    assert "Email verified at" in page or "email verified at" in page.lower()
