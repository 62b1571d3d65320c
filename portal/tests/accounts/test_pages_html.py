"""Every account page is well-formed HTML: elements close in order, every input has a <label for>, ids are unique."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from merchants.constants import ClientKind
from merchants.tests.factories import make_client

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
        "path", "rect"}  # svg shapes of the QR code are self-closed


class Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.problems, self.ids, self.label_for, self.inputs = [], [], set(), set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            if attrs["id"] in self.ids:
                self.problems.append(f"duplicate id {attrs['id']}")
            self.ids.add(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.inputs.append(attrs.get("id"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()


def check(html: str):
    checker = Checker()
    checker.feed(html)
    unlabelled = [i for i in checker.inputs if i is None or i not in checker.label_for]
    assert not checker.problems, checker.problems
    assert not checker.stack, checker.stack
    assert not unlabelled, unlabelled


def test_public_pages(client):
    for name in ("login", "signup", "password_reset", "password_reset_done", "password_reset_complete"):
        check(client.get(reverse(f"portal:{name}")).content.decode())
    check(client.get("/accounts/login/").content.decode())


def test_member_pages(owner_client, merchant, other_merchant, viewer):
    make_client(merchant, name="Backend")
    make_client(merchant, name="App", kind=ClientKind.CONNECT, redirect_uris="https://app.example/cb")
    owner_client.post(reverse("portal:totp_start"))  # the security page with its QR code
    for name in ("team", "credentials", "connected_apps", "docs", "security"):
        check(owner_client.get(reverse(f"portal:{name}")).content.decode())
    check(owner_client.post(reverse("portal:credentials"),
                            {"name": "x", "mode": "test", "scopes": ["payments:read"]}).content.decode())
