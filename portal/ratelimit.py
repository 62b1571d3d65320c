"""Limits on the e-mails and accounts anonymous people can make the portal produce (sign-up, password
reset, "send the confirmation link again"): fixed-window counters in Django's cache, per client IP
address and per target e-mail address.

The counter is core.permissions.count_hit (the API's throttle): one atomic step on Redis, add()/incr()
on other caches. Every attempt that would create or send something counts, refused ones included, so
hammering does not open the window sooner. The client IP is the one django-axes uses for the log-in
lockout (axes.helpers.get_client_ip_address: AXES_CLIENT_IP_CALLABLE, else django-ipware with the
AXES_IPWARE_* settings, else REMOTE_ADDR), so both protections see the same address behind a proxy.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from axes.helpers import get_client_ip_address
from django.conf import settings

from core.permissions import count_hit

KEY_PREFIX = "portal-limit:"

# action -> {what is counted: the setting with the number allowed per window}
LIMITS = {
    "signup": {"ip": "PORTAL_SIGNUP_PER_IP"},
    "password_reset": {"ip": "PORTAL_PASSWORD_RESET_PER_IP", "email": "PORTAL_PASSWORD_RESET_PER_EMAIL"},
    "verify_resend": {"email": "PORTAL_VERIFY_RESEND_PER_EMAIL"},
}


@dataclass(frozen=True)
class Limited:
    """A refused attempt: a message for the person and the seconds until they may try again."""

    message: str
    retry_after: int


def _key(action: str, kind: str, value: str) -> str:
    # E-mail addresses are hashed: cache keys must not carry personal data (nor arbitrary characters).
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{action}:{kind}:{digest}"


def hit(action: str, *, request=None, email: str | None = None) -> Limited | None:
    """Count one attempt of `action` for the client of `request` and for `email` (those the action limits).

    Returns None when it may go ahead, or a Limited when one of its counters is past its limit (then the
    caller must create and send nothing). A limit of 0 turns that counter off.
    """
    values = {"ip": get_client_ip_address(request) if request is not None else None, "email": email}
    window = settings.PORTAL_EMAIL_LIMIT_WINDOW_SECONDS
    wait = 0.0
    for kind, setting in LIMITS[action].items():
        allowed, value = getattr(settings, setting), values[kind]
        if not allowed or not value:
            continue
        count, remaining = count_hit(_key(action, kind, value), window)
        if count > allowed:
            wait = max(wait, remaining)
    if not wait:
        return None
    minutes = max(1, math.ceil(wait / 60))
    return Limited(message=f"Too many attempts. Please wait {minutes} minute{'s' if minutes != 1 else ''} "
                           "and try again.", retry_after=math.ceil(wait))
