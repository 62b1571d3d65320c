"""Anti-abuse limits of sign-up, password reset and "send the confirmation link again" (portal/ratelimit.py)."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

from merchants.models import Merchant
from portal import ratelimit

from .helpers import PASSWORD, make_member

pytestmark = pytest.mark.django_db


def sign_up_data(n):
    return {"business_name": f"Shop {n}", "email": f"owner{n}@shops.example", "password1": PASSWORD,
            "password2": PASSWORD, "country": "nl", "default_currency": "eur"}


@pytest.fixture
def limits(settings):
    settings.PORTAL_SIGNUP_PER_IP = 2
    settings.PORTAL_PASSWORD_RESET_PER_IP = 3
    settings.PORTAL_PASSWORD_RESET_PER_EMAIL = 2
    settings.PORTAL_VERIFY_RESEND_PER_EMAIL = 2
    settings.PORTAL_EMAIL_LIMIT_WINDOW_SECONDS = 3600
    return settings


@pytest.fixture
def end_of_window(monkeypatch):
    """end_of_window(): the current window is over. On the local-memory cache the cache's clock moves past
    it; on Redis (whose clock a test cannot move) the counters must carry the window as their expiry, and
    are then removed as Redis would."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        def done():
            client = cache._cache.get_client(write=True)
            keys = list(client.scan_iter(cache.make_key(ratelimit.KEY_PREFIX + "*")))
            assert keys
            for key in keys:
                assert 0 < client.pttl(key) <= 3600 * 1000
            client.delete(*keys)
        return done

    class Clock:
        now = time.time()

        def time(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr("django.core.cache.backends.locmem.time", clock)

    def done():
        clock.now += 3601
    return done


def page_without(response, email):
    """The page without what differs by nature: the address typed in and the (masked, per-render) CSRF token."""
    page = response.content.decode().replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def reset(client, email):
    return client.post(reverse("portal:password_reset"), {"email": email})


def resend(client):
    return client.post(reverse("portal:verify_email_resend"))


# --- Sign-up: per IP address -----------------------------------------------------------------------------


def test_sign_up_is_limited_per_ip_and_creates_nothing_past_the_limit(client, limits, end_of_window,
                                                                      django_capture_on_commit_callbacks):
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert Client().post(reverse("portal:signup"), sign_up_data(n)).status_code == 302
    assert Merchant.objects.count() == 2 and len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:signup"), sign_up_data(2))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert response.context["form"].non_field_errors()
    assert Merchant.objects.count() == 2 and len(mail.outbox) == 2
    assert not get_user_model().objects.filter(email="owner2@shops.example").exists()
    assert "_auth_user_id" not in client.session
    # Another address is not limited by this one.
    with django_capture_on_commit_callbacks(execute=True):
        assert Client(REMOTE_ADDR="10.9.8.7").post(reverse("portal:signup"), sign_up_data(3)).status_code == 302
    # A new window allows sign-ups again.
    end_of_window()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("portal:signup"), sign_up_data(2)).status_code == 302
    assert Merchant.objects.count() == 4


def test_invalid_sign_ups_do_not_count(client, limits):
    for _ in range(5):
        assert client.post(reverse("portal:signup"), {**sign_up_data(0), "password2": "x"}).status_code == 400
    assert client.post(reverse("portal:signup"), sign_up_data(0)).status_code == 302


def test_client_ip_is_the_one_django_axes_uses(client, settings, limits):
    """Behind a proxy, the address axes is configured to read (here X-Forwarded-For) is the one counted."""
    settings.AXES_CLIENT_IP_CALLABLE = lambda request: request.META.get("HTTP_X_FORWARDED_FOR", "")
    for n in range(2):
        assert Client(HTTP_X_FORWARDED_FOR="203.0.113.5").post(
            reverse("portal:signup"), sign_up_data(n)).status_code == 302
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.5").post(
        reverse("portal:signup"), sign_up_data(2)).status_code == 429
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.6").post(
        reverse("portal:signup"), sign_up_data(3)).status_code == 302


def test_a_limit_of_zero_is_off(client, limits):
    limits.PORTAL_SIGNUP_PER_IP = 0
    for n in range(4):
        assert Client().post(reverse("portal:signup"), sign_up_data(n)).status_code == 302


# --- Password reset: per IP address and per e-mail address, without telling which addresses exist -----


def test_password_reset_is_limited_per_email_known_or_not(client, merchant, limits, end_of_window):
    make_member(merchant, email="bo@shop.example")
    for email in ("bo@shop.example", "nobody@shop.example"):
        for n in range(2):
            response = Client(REMOTE_ADDR=f"10.0.{n}.1").post(reverse("portal:password_reset"), {"email": email})
            assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_done")
    assert len(mail.outbox) == 2
    # Past the limit: the same answer for a known and an unknown address, and nothing sent.
    known = Client(REMOTE_ADDR="10.0.5.1").post(reverse("portal:password_reset"), {"email": "BO@shop.example"})
    unknown = Client(REMOTE_ADDR="10.0.6.1").post(reverse("portal:password_reset"), {"email": "nobody@shop.example"})
    assert known.status_code == unknown.status_code == 429
    assert page_without(known, "BO@shop.example") == page_without(unknown, "nobody@shop.example")
    assert "Too many attempts" in known.content.decode()
    assert len(mail.outbox) == 2
    end_of_window()
    assert reset(client, "bo@shop.example").status_code == 302
    assert len(mail.outbox) == 3


def test_password_reset_is_limited_per_ip(client, merchant, limits, end_of_window):
    make_member(merchant, email="bo@shop.example")
    for n in range(3):
        assert reset(client, f"someone{n}@shop.example").status_code == 302
    response = reset(client, "bo@shop.example")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert not mail.outbox
    assert reset(Client(REMOTE_ADDR="10.1.1.1"), "bo@shop.example").status_code == 302
    assert len(mail.outbox) == 1
    end_of_window()
    assert reset(client, "bo@shop.example").status_code == 302
    assert len(mail.outbox) == 2


def test_known_and_unknown_addresses_get_the_same_page_below_the_limit(client, merchant, limits):
    make_member(merchant, email="bo@shop.example")
    known, unknown = reset(client, "bo@shop.example"), reset(client, "nobody@shop.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])


# --- Confirmation link again: per e-mail address, across sessions -----------------------------------------


def test_resend_is_limited_per_email_across_sessions(merchant, limits, end_of_window,
                                                     django_capture_on_commit_callbacks):
    user = make_member(merchant, email="new@shop.example", verified=False)

    def fresh_session():
        c = Client(REMOTE_ADDR="10.2.2.2")
        c.force_login(user)
        return c

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert resend(fresh_session()).status_code == 302
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = resend(fresh_session())
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert len(mail.outbox) == 2
    # Another member's address has its own count.
    other = make_member(merchant, email="other@shop.example", verified=False)
    c = Client()
    c.force_login(other)
    with django_capture_on_commit_callbacks(execute=True):
        assert resend(c).status_code == 302
    assert len(mail.outbox) == 3
    end_of_window()
    with django_capture_on_commit_callbacks(execute=True):
        assert resend(fresh_session()).status_code == 302
    assert len(mail.outbox) == 4
