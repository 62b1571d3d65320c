"""Two-factor authentication, once a person turned it on, is needed for every page that uses the session.

A session that logged in with the password only (for example through the admin's log-in page) is sent
to enter the code before it sees anything else: the portal's log-in page for /portal/, the
/accounts/login/ page otherwise (the OAuth consent screen, the admin). The bearer-token API (/v1/,
/oauth/token/) does not use the session and is not affected. Place after django_otp's OTPMiddleware.

Whether the person has 2FA on is read once per log-in (the `user_logged_in` signal) and kept in the
session, so pages cost no extra query.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from merchants.account_selectors import user_has_totp

SESSION_HAS_TOTP = "portal_has_totp"


def remember_second_factor(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_HAS_TOTP] = user_has_totp(user=user)


def needs_second_factor(request) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return False
    has_totp = request.session.get(SESSION_HAS_TOTP)
    if has_totp is None:  # a session from before this setting: look once
        has_totp = request.session[SESSION_HAS_TOTP] = user_has_totp(user=user)
    return has_totp


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(settings.STATIC_URL) and needs_second_factor(request):
            exempt = {reverse("portal:login"), reverse("portal:logout"), settings.LOGIN_URL, reverse("logout")}
            if path not in exempt:
                login_url = reverse("portal:login") if path.startswith("/portal/") else settings.LOGIN_URL
                return redirect_to_login(request.get_full_path(), login_url)
        return self.get_response(request)
