"""merchants.accounts and the redirect-URI rules of third-party apps (services, without the portal)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import StateError, ValidationError
from merchants import accounts, services
from merchants.account_models import MerchantInvitation
from merchants.constants import MemberRole, MerchantStatus

pytestmark = pytest.mark.django_db


def link(token):
    return f"https://portal.example/{token}"


@pytest.fixture
def owner(merchant):
    user = get_user_model().objects.create_user("o@shop.example", "o@shop.example", "a-long-pass-phrase-42")
    services.member_add(merchant=merchant, user=user)
    return user


@pytest.mark.parametrize("uris, ok", [
    ("https://app.example/cb", True),
    ("https://app.example:8443/cb?x=1", True),
    ("http://127.0.0.1:9000/cb http://localhost/cb http://[::1]:8080/cb", True),
    ("http://app.example/cb", False),
    ("http://127.0.0.1.evil.example/cb", False),
    ("https://*.app.example/cb", False),
    ("https://app.example/cb#x", False),
    ("ftp://app.example/cb", False),
    ("https:///cb", False),
    ("https://app.example:99999/cb", False),
    ("javascript:alert(1)", False),
    (" ".join(f"https://app.example/{i}" for i in range(11)), False),
])
def test_redirect_uris(uris, ok):
    if ok:
        assert services.check_redirect_uris(uris) == uris
    else:
        with pytest.raises(ValidationError):
            services.check_redirect_uris(uris)


def test_sign_up_is_all_or_nothing(db):
    with pytest.raises(ValidationError):
        accounts.merchant_sign_up(business_name="Shop", email="a@shop.example", password="123")
    assert not get_user_model().objects.exists()
    member = accounts.merchant_sign_up(business_name="Shop", email="A@Shop.example",
                                       password="a-long-pass-phrase-42")
    assert member.merchant.status == MerchantStatus.PENDING and not member.email_verified
    with pytest.raises(ValidationError):
        accounts.merchant_sign_up(business_name="Shop 2", email="a@shop.EXAMPLE", password="a-long-pass-phrase-42")


def test_one_open_invitation_per_address(merchant, owner):
    accounts.invitation_create(merchant=merchant, email="x@shop.example", role="viewer", invited_by=owner,
                               link_for=link)
    accounts.invitation_create(merchant=merchant, email="X@shop.example", role="developer", invited_by=owner,
                               link_for=link)
    assert MerchantInvitation.objects.filter(revoked_at__isnull=True).get().role == "developer"
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantInvitation.objects.create(merchant=merchant, email="x@shop.example", role="viewer",
                                          token_hash="h" * 64, expires_at=timezone.now() + timedelta(days=1))


def test_only_owners_invite(merchant, owner):
    dev = get_user_model().objects.create_user("d@shop.example", "d@shop.example", "x")
    services.member_add(merchant=merchant, user=dev, role=MemberRole.DEVELOPER)
    with pytest.raises(StateError):
        accounts.invitation_create(merchant=merchant, email="x@shop.example", role="owner", invited_by=dev,
                                   link_for=link)


def test_accept_twice_is_refused(merchant, owner):
    _, token = accounts.invitation_create(merchant=merchant, email="x@shop.example", role="viewer",
                                          invited_by=owner, link_for=link)
    member = accounts.invitation_accept(token=token, password="a-long-pass-phrase-42")
    assert member.role == "viewer" and member.email_verified
    with pytest.raises(StateError):
        accounts.invitation_accept(token=token, password="a-long-pass-phrase-42")


def test_member_add_refuses_a_second_merchant(merchant, other_merchant, owner):
    with pytest.raises(StateError):
        services.member_add(merchant=other_merchant, user=owner)


def test_role_change_keeps_one_owner(merchant, owner):
    me = owner.merchant_member
    with pytest.raises(StateError):
        accounts.member_set_role(merchant=merchant, member_id=me.pk, role="viewer")
    with pytest.raises(ValidationError):
        accounts.member_set_role(merchant=merchant, member_id=me.pk, role="king")
