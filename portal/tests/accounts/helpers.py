"""Helpers of the account pages' tests."""

from __future__ import annotations

import re
import time

from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.oath import TOTP

from merchants.constants import MemberRole
from merchants.services import member_add

PASSWORD = "a-long-pass-phrase-42"


def make_member(merchant, role=MemberRole.OWNER, email=None, *, verified=True, password=PASSWORD):
    email = email or f"{role}-{merchant.pk[-6:].lower()}@example.com"
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    member_add(merchant=merchant, user=user, role=role, email_verified=verified)
    return user


class Clock:
    """The clock django-otp's TOTP devices read (the rest of the world keeps real time)."""

    def __init__(self):
        self.now = float(int(time.time()) // 30 * 30 + 5)  # 5 s into a 30 s time step

    def time(self):
        return self.now

    def advance(self, seconds=30):
        self.now += seconds


def totp_code(device, at: float) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = at
    return f"{totp.token():0{device.digits}d}"


def last_link(pattern: str) -> str:
    """The first URL in the newest e-mail that matches `pattern` (a regex on the path)."""
    assert mail.outbox, "no e-mail was sent"
    match = re.search(r"https?://\S*" + pattern + r"\S*", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0)


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def assert_secret_absent(response, secret: str):
    assert secret not in response.content.decode()
