"""Fixtures of the merchant data pages' tests: signed-in members of each role, webhooks kept local."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cards.tests.pci import find_pans
from merchants.constants import MemberRole
from merchants.services import member_add

PASSWORD = "pw-portal-1234567"


@pytest.fixture(autouse=True)
def _webhooks_stay_local(settings, monkeypatch):
    """Loopback test endpoints allowed; delivery tasks are not sent to a broker (tests deliver by hand)."""
    settings.WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE = True
    monkeypatch.setattr("merchants.services._enqueue_deliveries", lambda ids, countdown=None: None)


@pytest.fixture
def member_client(db, merchant):
    """member_client(role, merchant=None) -> a Django test Client signed in as a new member with `role`."""
    made = []

    def make(role=MemberRole.OWNER, of=None):
        user = get_user_model().objects.create_user(username=f"{role}-{len(made)}", password=PASSWORD,
                                                    email=f"{role}-{len(made)}@example.com")
        member_add(merchant=of or merchant, user=user, role=role)
        client = Client()
        client.force_login(user)
        made.append(client)
        return client

    return make


@pytest.fixture
def owner(member_client):
    return member_client(MemberRole.OWNER)


@pytest.fixture
def developer(member_client):
    return member_client(MemberRole.DEVELOPER)


@pytest.fixture
def viewer(member_client):
    return member_client(MemberRole.VIEWER)


def page(response, status=200) -> str:
    """The page's text, after checking its status and that it shows no card number (PCI DSS)."""
    assert response.status_code == status, response.content[:500]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert find_pans(content) == [], "a card number is rendered"
    return content.decode()
