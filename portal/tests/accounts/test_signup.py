"""Sign-up, e-mail verification, log-in with the e-mail address, log-out, password reset."""

import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from merchants.constants import MemberRole, MerchantStatus
from merchants.models import Merchant, MerchantMember

from .helpers import PASSWORD, last_link, make_member, path_of

pytestmark = pytest.mark.django_db

SIGN_UP = {"business_name": "Blue Bikes", "email": "Ana@BlueBikes.example", "password1": PASSWORD,
           "password2": PASSWORD, "country": "nl", "default_currency": "eur"}


@pytest.fixture
def signed_up(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:signup"), SIGN_UP)
    assert response.status_code == 302, response.content.decode()
    return response


def test_sign_up_page_has_labelled_fields(client):
    page = client.get(reverse("portal:signup")).content.decode()
    for field in ("business_name", "email", "password1", "password2", "country", "default_currency"):
        assert f'<label for="id_{field}">' in page
        assert f'id="id_{field}"' in page
    assert ">Create account</button>" in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_sign_up_creates_pending_merchant_and_unverified_owner(client, signed_up):
    assert signed_up["Location"] == reverse("portal:dashboard")
    member = MerchantMember.objects.select_related("merchant", "user").get(user__email="ana@bluebikes.example")
    assert member.role == MemberRole.OWNER
    assert member.email_verified_at is None
    assert member.merchant.status == MerchantStatus.PENDING
    assert (member.merchant.name, member.merchant.country, member.merchant.default_currency) == ("Blue Bikes", "NL",
                                                                                                  "EUR")
    assert member.user.username == "ana@bluebikes.example"
    assert member.user.check_password(PASSWORD)
    # Logged in, test mode only, asked to confirm the address.
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert "only <strong>test mode</strong> is available" in page
    assert "Confirm your e-mail address" in page
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ana@bluebikes.example"]


def test_verification_link_confirms_the_address_once(client, signed_up):
    link = last_link("/portal/email/verify/")
    assert link.startswith("http://127.0.0.1:8000/")  # BASE_URL, never the request's Host header
    response = client.get(path_of(link))
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    member = MerchantMember.objects.get(user__email="ana@bluebikes.example")
    verified_at = member.email_verified_at
    assert verified_at is not None
    assert "Confirm your e-mail address" not in client.get(reverse("portal:dashboard")).content.decode()
    # Opening it again (even logged out) changes nothing and says so kindly.
    client.post(reverse("portal:logout"))
    response = client.get(path_of(link))
    assert response.status_code == 200 and b"confirmed" in response.content
    member.refresh_from_db()
    assert member.email_verified_at == verified_at


def test_tampered_or_expired_verification_link_is_refused(client, signed_up):
    link = path_of(last_link("/portal/email/verify/"))
    response = client.get(link[:-3] + "xx/")
    assert response.status_code == 400 and b"not valid" in response.content
    user = get_user_model().objects.get(email="ana@bluebikes.example")
    from merchants import accounts

    with mock.patch("django.core.signing.time.time", return_value=time.time() - 4 * 86400):
        old_token = accounts.email_verification_token(user=user)
    response = client.get(reverse("portal:verify_email", args=[old_token]))
    assert response.status_code == 400 and b"expired" in response.content
    assert MerchantMember.objects.get(user=user).email_verified_at is None


def test_verification_link_stops_working_when_the_address_changes(client, signed_up):
    link = path_of(last_link("/portal/email/verify/"))
    get_user_model().objects.filter(email="ana@bluebikes.example").update(email="other@bluebikes.example")
    assert client.get(link).status_code == 400
    assert MerchantMember.objects.get(user__email="other@bluebikes.example").email_verified_at is None


def test_resend_verification(client, signed_up, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:verify_email_resend"))
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    assert "/portal/email/verify/" in mail.outbox[1].body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:verify_email_resend"), follow=True)
    assert "less than a minute ago" in response.content.decode()
    assert len(mail.outbox) == 2  # not a mail cannon


@pytest.mark.parametrize("change, field, message", [
    ({"email": "not-an-address"}, "email", "valid email"),
    ({"password1": "short", "password2": "short"}, "password1", "too short"),
    ({"password2": "something-else-entirely"}, "password2", "differ"),
    ({"country": "D1"}, "country", "ISO 3166"),
    ({"default_currency": "XXY"}, "default_currency", ""),
    ({"business_name": "   "}, "business_name", ""),
])
def test_bad_sign_up_changes_nothing(client, change, field, message):
    response = client.post(reverse("portal:signup"), {**SIGN_UP, **change})
    assert response.status_code == 400
    assert response.context["form"].errors.get(field) or response.context["form"].non_field_errors()
    assert message in response.content.decode()
    assert not Merchant.objects.exists()
    assert not get_user_model().objects.exists()
    assert not mail.outbox


def test_sign_up_with_an_address_in_use_is_refused(client, merchant):
    make_member(merchant, email="ana@bluebikes.example")
    response = client.post(reverse("portal:signup"), SIGN_UP)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Merchant.objects.count() == 1


def test_log_in_with_email_or_username_and_log_out(client, merchant):
    user = make_member(merchant, email="bo@shop.example")
    get_user_model().objects.filter(pk=user.pk).update(username="bo")
    for login in ("BO@shop.example", "bo"):
        response = client.post(reverse("portal:login"), {"username": login, "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard"), login
        assert client.get(reverse("portal:dashboard")).status_code == 200
        assert client.post(reverse("portal:logout")).status_code == 302
        assert client.get(reverse("portal:dashboard")).status_code == 302  # back to log-in


def test_wrong_password_is_refused_with_a_clear_message(client, merchant):
    make_member(merchant, email="bo@shop.example")
    response = client.post(reverse("portal:login"), {"username": "bo@shop.example", "password": "wrong"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_structure(client):
    page = client.get(reverse("portal:login")).content.decode()
    assert '<label for="id_username">Email or username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert ">Log in</button>" in page
    assert reverse("portal:signup") in page and reverse("portal:password_reset") in page


def test_logout_needs_post(client, owner_client):
    assert owner_client.get(reverse("portal:logout")).status_code == 405


def test_password_reset_by_email(client, merchant, django_capture_on_commit_callbacks):
    make_member(merchant, email="bo@shop.example")
    response = client.post(reverse("portal:password_reset"), {"email": "BO@shop.example"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_done")
    assert len(mail.outbox) == 1
    link = last_link("/portal/password-reset/")
    assert link.startswith("http://127.0.0.1:8000/portal/password-reset/")
    response = client.get(path_of(link), follow=True)  # Django swaps the token for a session marker
    assert response.status_code == 200 and response.context["validlink"]
    new = "another-long-pass-phrase-7"
    response = client.post(response.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_complete")
    assert client.post(reverse("portal:login"), {"username": "bo@shop.example", "password": new}).status_code == 302
    # The link works once.
    client.post(reverse("portal:logout"))
    assert not client.get(path_of(link), follow=True).context["validlink"]


def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("portal:password_reset"), {"email": "nobody@shop.example"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_done")
    assert not mail.outbox


def test_signed_in_member_skips_sign_up(owner_client):
    response = owner_client.get(reverse("portal:signup"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")


def test_pages_are_csrf_protected(merchant):
    from django.test import Client

    user = make_member(merchant, email="bo@shop.example")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("portal:login"), {"username": "bo@shop.example", "password": PASSWORD}
                       ).status_code == 403
    strict.force_login(user)
    assert strict.post(reverse("portal:credentials"), {"name": "x", "mode": "test", "scopes": ["payments:read"]}
                       ).status_code == 403
    assert strict.post(reverse("portal:team"), {"email": "x@example.com", "role": "viewer"}).status_code == 403
