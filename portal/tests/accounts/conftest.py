"""Fixtures of the account pages' tests: members of each role, a logged-in owner, a TOTP clock."""

import pytest

from merchants.constants import MemberRole, MerchantStatus
from merchants.tests.factories import MerchantFactory

from .helpers import Clock, make_member


@pytest.fixture
def pending_merchant(db):
    return MerchantFactory(name="Pending Shop", status=MerchantStatus.PENDING)


@pytest.fixture
def owner(merchant):
    return make_member(merchant, MemberRole.OWNER)


@pytest.fixture
def developer(merchant):
    return make_member(merchant, MemberRole.DEVELOPER)


@pytest.fixture
def viewer(merchant):
    return make_member(merchant, MemberRole.VIEWER)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def clock(monkeypatch, settings):
    """The clock django-otp's TOTP devices read; throttling off (tests that want it turn it on)."""
    c = Clock()
    monkeypatch.setattr("django_otp.plugins.otp_totp.models.time", c)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    return c
