"""Log-in lockout (django-axes) on every log-in page, and TOTP two-factor (django-otp)."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from .helpers import PASSWORD, make_member, totp_code

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ["/portal/login/", "/accounts/login/", "/admin/login/"]


def fail(client, url, login):
    return client.post(url, {"username": login, "password": "not-the-password"})


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_five_failures_lock_the_account_out_on_every_log_in_page(client, merchant, settings, url):
    user = make_member(merchant, email="bo@shop.example")
    user.is_staff = True  # so the admin log-in would accept the right password
    user.save()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert fail(client, url, "bo@shop.example").status_code == 200
    assert fail(client, url, "bo@shop.example").status_code == 429
    # Now even the right password is refused, with the lockout page.
    response = client.post(url, {"username": "bo@shop.example", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_email_and_username_count_as_one_account(client, merchant, settings):
    make_member(merchant, email="bo@shop.example")
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(email="bo@shop.example").update(username="bo")
    logins = ["bo", "BO@shop.example", "bo@shop.example", "bo", "bo@SHOP.example"]
    codes = [fail(client, "/portal/login/", login).status_code for login in logins[: settings.AXES_FAILURE_LIMIT]]
    assert codes[-1] == 429, codes
    assert AccessAttempt.objects.get().username == "bo"


def test_lockout_is_per_account_and_address(client, merchant, settings):
    make_member(merchant, email="bo@shop.example")
    make_member(merchant, email="cy@shop.example", role="viewer")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail(client, "/portal/login/", "bo@shop.example")
    # Another account from the same address, and the same account from another address, still log in.
    assert client.post("/portal/login/", {"username": "cy@shop.example", "password": PASSWORD}).status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert elsewhere.post("/portal/login/", {"username": "bo@shop.example", "password": PASSWORD}).status_code == 302


def test_a_success_resets_the_failure_count(client, merchant, settings):
    make_member(merchant, email="bo@shop.example")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        fail(client, "/portal/login/", "bo@shop.example")
    assert client.post("/portal/login/", {"username": "bo@shop.example", "password": PASSWORD}).status_code == 302
    client.post(reverse("portal:logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert fail(client, "/portal/login/", "bo@shop.example").status_code == 200


# --- Two-factor --------------------------------------------------------------------------------------


def enable_totp(client, clock):
    """Turn 2FA on through the security page; returns the confirmed device."""
    page = client.get(reverse("portal:security")).content.decode()
    assert ">Set up two-factor</button>" in page
    assert client.post(reverse("portal:totp_start")).status_code == 302
    page = client.get(reverse("portal:security")).content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(confirmed=False)
    response = client.post(reverse("portal:totp_confirm"), {"otp_token": totp_code(device, clock.now)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_enable_two_factor_needs_a_right_code(owner_client, clock):
    owner_client.post(reverse("portal:totp_start"))
    device = TOTPDevice.objects.get()
    wrong = f"{(int(totp_code(device, clock.now)) + 1) % 1_000_000:06d}"
    response = owner_client.post(reverse("portal:totp_confirm"), {"otp_token": wrong}, follow=True)
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    response = owner_client.post(reverse("portal:totp_confirm"), {"otp_token": totp_code(device, clock.now)})
    device.refresh_from_db()
    assert device.confirmed
    assert "Turn off two-factor" in owner_client.get(reverse("portal:security")).content.decode()
    from core.models import AuditLogEntry

    assert AuditLogEntry.objects.filter(action="member.two_factor_enabled").count() == 1


def test_log_in_with_two_factor_asks_for_the_code(client, owner, clock):
    client.force_login(owner)
    device = enable_totp(client, clock)
    client.post(reverse("portal:logout"))

    response = client.post(reverse("portal:login"), {"username": owner.email, "password": PASSWORD,
                                                     "next": "/portal/docs/"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="id_otp_token">Authentication code</label>' in page and ">Verify</button>" in page
    assert "_auth_user_id" not in client.session  # the password alone did not log in
    assert client.get(reverse("portal:dashboard")).status_code == 302

    clock.advance(30)
    response = client.post(reverse("portal:login"), {"otp_token": "000000", "next": "/portal/docs/"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    code = totp_code(device, clock.now)
    response = client.post(reverse("portal:login"), {"otp_token": code, "next": "/portal/docs/"})
    assert response.status_code == 302 and response["Location"] == "/portal/docs/"
    assert client.get(reverse("portal:dashboard")).status_code == 200

    # The same code never works twice.
    client.post(reverse("portal:logout"))
    client.post(reverse("portal:login"), {"username": owner.email, "password": PASSWORD})
    response = client.post(reverse("portal:login"), {"otp_token": code})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_too_many_wrong_codes_ask_for_the_password_again(client, owner, clock):
    client.force_login(owner)
    enable_totp(client, clock)
    client.post(reverse("portal:logout"))
    client.post(reverse("portal:login"), {"username": owner.email, "password": PASSWORD})
    for _ in range(5):
        client.post(reverse("portal:login"), {"otp_token": "000000"})
    response = client.post(reverse("portal:login"), {"otp_token": "000000"}, follow=True)
    assert "Log in again" in response.content.decode()
    assert 'id="id_password"' in response.content.decode()


def test_wrong_codes_are_throttled(client, owner, clock, settings):
    client.force_login(owner)
    device = enable_totp(client, clock)
    client.post(reverse("portal:logout"))
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600  # after a wrong code, every code is refused for an hour
    client.post(reverse("portal:login"), {"username": owner.email, "password": PASSWORD})
    client.post(reverse("portal:login"), {"otp_token": "000000"})
    clock.advance(30)
    response = client.post(reverse("portal:login"), {"otp_token": totp_code(device, clock.now)})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_session_logged_in_without_the_code_must_enter_it(client, owner, clock):
    """E.g. a log-in through the admin's page, which knows nothing of two-factor."""
    client.force_login(owner)
    device = enable_totp(client, clock)
    client.post(reverse("portal:logout"))
    client.force_login(owner)  # password only
    response = client.get(reverse("portal:credentials"))
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/?next=/portal/credentials/")
    response = client.get(response["Location"])
    assert response.status_code == 200 and response.context["otp_step"]
    # Outside the portal (the OAuth consent screen) it is /accounts/login/.
    response = client.get("/oauth/authorize/?client_id=x")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert client.get("/accounts/login/").context["otp_step"]
    clock.advance(30)
    response = client.post("/accounts/login/", {"otp_token": totp_code(device, clock.now),
                                                "next": "/portal/credentials/"})
    assert response.status_code == 302 and response["Location"] == "/portal/credentials/"
    assert client.get(reverse("portal:credentials")).status_code == 200


def test_consent_log_in_page_asks_for_the_code_too(client, owner, clock):
    client.force_login(owner)
    device = enable_totp(client, clock)
    client.post(reverse("portal:logout"))
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD, "next": "/portal/"})
    assert response.status_code == 200 and response.context["otp_step"]
    assert "_auth_user_id" not in client.session
    clock.advance(30)
    response = client.post("/accounts/login/", {"otp_token": totp_code(device, clock.now), "next": "/portal/"})
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_disable_two_factor_needs_a_code(client, owner, clock):
    client.force_login(owner)
    device = enable_totp(client, clock)
    clock.advance(30)
    client.post(reverse("portal:totp_disable"), {"otp_token": "123"})
    assert TOTPDevice.objects.filter(confirmed=True).exists()
    response = client.post(reverse("portal:totp_disable"), {"otp_token": totp_code(device, clock.now)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.exists()
    client.post(reverse("portal:logout"))
    assert client.post(reverse("portal:login"), {"username": owner.email, "password": PASSWORD}).status_code == 302


def test_password_change_on_the_security_page(owner_client, owner):
    new = "a-brand-new-pass-phrase-9"
    response = owner_client.post(reverse("portal:password_change"),
                                 {"old_password": "wrong", "new_password1": new, "new_password2": new})
    assert response.status_code == 400
    response = owner_client.post(reverse("portal:password_change"),
                                 {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new)
    assert owner_client.get(reverse("portal:security")).status_code == 200  # this session stays


def test_code_that_logs_in_without_a_request_still_works(client, merchant):
    """Django's test client `login()` calls authenticate() without a request: no address to lock."""
    make_member(merchant, email="bo@shop.example")
    assert client.login(username="bo@shop.example", password=PASSWORD)
    assert client.get(reverse("portal:dashboard")).status_code == 200


@pytest.mark.parametrize("name, expected", [
    ("team", {"owner": 200, "developer": 403, "viewer": 403}),
    ("credentials", {"owner": 200, "developer": 200, "viewer": 403}),
    ("connected_apps", {"owner": 200, "developer": 200, "viewer": 403}),
    ("docs", {"owner": 200, "developer": 200, "viewer": 200}),
    ("security", {"owner": 200, "developer": 200, "viewer": 200}),
])
def test_who_sees_which_account_page(client, request, name, expected):
    for role, status in expected.items():
        client.force_login(request.getfixturevalue(role))
        assert client.get(reverse(f"portal:{name}")).status_code == status, (name, role)
    client.logout()
    response = client.get(reverse(f"portal:{name}"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))
