import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from merchants.constants import MemberRole, MerchantStatus
from merchants.services import member_add
from portal.access import CAPABILITIES

pytestmark = pytest.mark.django_db


def _member(merchant, role, username):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="pw-1234567"
    )
    member_add(merchant=merchant, user=user, role=role)
    return user


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_user_without_merchant_is_refused(client):
    user = get_user_model().objects.create_user(username="loner", password="pw-1234567")
    client.force_login(user)
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    assert b"not a member" in response.content


def test_member_sees_dashboard_and_pending_banner(client, merchant):
    merchant.status = MerchantStatus.PENDING
    merchant.save(update_fields=["status"])
    client.force_login(_member(merchant, MemberRole.VIEWER, "viewer"))
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert b"only <strong>test mode</strong> is available" in response.content


def test_live_mode_refused_until_approved(client, merchant):
    merchant.status = MerchantStatus.PENDING
    merchant.save(update_fields=["status"])
    client.force_login(_member(merchant, MemberRole.OWNER, "owner"))
    client.post(reverse("portal:mode_switch"), {"mode": "live"})
    assert client.get(reverse("portal:dashboard")).context["portal"].livemode is False
    merchant.status = MerchantStatus.ACTIVE
    merchant.save(update_fields=["status"])
    client.post(reverse("portal:mode_switch"), {"mode": "live"})
    assert client.get(reverse("portal:dashboard")).context["portal"].livemode is True


def test_roles_capabilities():
    assert MemberRole.VIEWER not in CAPABILITIES["refund"]
    assert MemberRole.DEVELOPER not in CAPABILITIES["manage_team"]
    assert all(MemberRole.OWNER in roles for roles in CAPABILITIES.values())


@pytest.mark.parametrize(("role", "offered", "not_offered"), [
    (MemberRole.OWNER, {"credentials", "connected_apps", "team"}, set()),
    (MemberRole.DEVELOPER, {"credentials", "connected_apps"}, {"team"}),
    (MemberRole.VIEWER, set(), {"credentials", "connected_apps", "team"}),
])
def test_the_navigation_offers_only_pages_the_role_may_open(client, merchant, role, offered, not_offered):
    client.force_login(_member(merchant, role, f"{role}-nav"))
    html = client.get(reverse("portal:dashboard")).content.decode()
    for name in offered | not_offered:
        link = f'<li><a href="{reverse(f"portal:{name}")}"'
        assert (link in html) == (name in offered), name
        assert client.get(reverse(f"portal:{name}")).status_code == (200 if name in offered else 403)
    for name in ("dashboard", "payments", "money", "webhooks", "request_log", "docs"):  # every member reads these
        assert f'<li><a href="{reverse(f"portal:{name}")}"' in html
