"""Log-in with the e-mail address or the username, and how django-axes names the account tried."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


def _user_for(login: str):
    """The user a log-in name means: the username, else the one user with that e-mail address."""
    User = get_user_model()
    login = (login or "").strip()
    if not login:
        return None
    user = User._default_manager.filter(username=login).first()
    if user is None and "@" in login:
        matches = list(User._default_manager.filter(email__iexact=login)[:2])
        user = matches[0] if len(matches) == 1 else None  # an address two accounts share logs in nobody
    return user


class EmailOrUsernameBackend(ModelBackend):
    """Django's ModelBackend, which also accepts the account's e-mail address as the username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = _user_for(username)
        if user is None:
            get_user_model()().set_password(password)  # same work as a real check: no timing hint
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def axes_username(request, credentials) -> str:
    """AXES_USERNAME_CALLABLE: failures with the e-mail address and with the username count for one account."""
    source = credentials or getattr(request, "POST", {})
    login = source.get("username") or ""
    user = _user_for(login)
    return user.get_username() if user is not None else login.strip().lower()


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every log-in page passes the request to `authenticate`, and is checked. A call without a request
    comes from code, not from a person at a log-in form (Django's test client `login()`, a management
    command): there is no client address to lock, so it is let through to the password check instead
    of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
