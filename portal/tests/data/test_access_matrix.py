"""Every data page is a portal view with the right capability; anonymous callers go to the log-in."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from portal import merchant_urls

pytestmark = pytest.mark.django_db

WRITES = {
    "payment_refund": "refund",
    "webhook_create": "manage_webhooks",
    "webhook_edit": "manage_webhooks",
    "webhook_status": "manage_webhooks",
    "webhook_delete": "manage_webhooks",
    "webhook_rotate": "manage_webhooks",
    "webhook_test": "manage_webhooks",
    "webhook_redeliver": "manage_webhooks",
}
ARGS = {"payment_id": "pay_x", "settlement_id": "stl_x", "endpoint_id": "we_x"}


def _url(pattern):
    names = list(pattern.pattern.converters)
    return reverse(f"portal:{pattern.name}", kwargs={n: ARGS[n] for n in names})


@pytest.mark.parametrize("pattern", merchant_urls.urlpatterns, ids=lambda p: p.name)
def test_capability(pattern):
    assert pattern.callback.portal_capability == WRITES.get(pattern.name, "view")


@pytest.mark.parametrize("pattern", merchant_urls.urlpatterns, ids=lambda p: p.name)
def test_anonymous_goes_to_log_in_and_a_stranger_is_refused(pattern):
    url = _url(pattern)
    method = "post" if pattern.name in ("webhook_status", "webhook_test", "webhook_redeliver") else "get"
    r = getattr(Client(), method)(url)
    assert r.status_code == 302 and r["Location"].startswith(reverse("portal:login"))
    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user(username="stranger", password="x-123456789012"))
    assert getattr(stranger, method)(url).status_code == 403
