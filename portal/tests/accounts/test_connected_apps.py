"""Connected apps: register an OAuth app for other merchants; see and revoke the apps your team authorized."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import AccessToken, RefreshToken
from rest_framework.test import APIClient

from core.scopes import SCOPES
from merchants.constants import ClientKind, MemberRole
from merchants.models import ApiClient
from merchants.tests.factories import issue_token, make_client

from .helpers import make_member

pytestmark = pytest.mark.django_db

APP = {"name": "Bookkeeping Pro", "redirect_uris": "https://books.example/oauth/cb\nhttps://books.example/cb2",
       "mode": "test", "scopes": ["payments:read", "refunds:write"]}


def register(client, **data):
    return client.post(reverse("portal:connected_apps"), {**APP, **data})


def test_viewer_cannot_manage_apps(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("portal:connected_apps")).status_code == 403
    assert register(client).status_code == 403


def test_register_an_app_secret_shown_once(owner_client, merchant):
    page = owner_client.get(reverse("portal:connected_apps")).content.decode()
    assert '<label for="id_redirect_uris">Redirect URIs</label>' in page and ">Register app</button>" in page
    response = register(owner_client)
    assert response.status_code == 200
    app = ApiClient.objects.get()
    secret = response.context["secret"]
    assert (app.kind, app.authorization_grant_type, app.merchant) == (ClientKind.CONNECT, "authorization-code",
                                                                        merchant)
    assert app.redirect_uris == "https://books.example/oauth/cb https://books.example/cb2"
    assert secret in response.content.decode() and app.client_id in response.content.decode()
    page = owner_client.get(reverse("portal:connected_apps")).content.decode()
    assert app.client_id in page and secret not in page


@pytest.mark.parametrize("uris, message", [
    ("http://books.example/cb", "must use https://"),
    ("https://*.books.example/cb", "wildcard"),
    ("https://books.example/cb#frag", "fragment"),
    ("books.example/cb", "absolute https:// URL"),
    ("https://user:pw@books.example/cb", "user name or password"),
    ("", "This field is required"),
])
def test_bad_redirect_uris_are_refused(owner_client, uris, message):
    response = register(owner_client, redirect_uris=uris)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiClient.objects.exists()


def test_loopback_http_only_where_the_oauth_settings_allow_it(owner_client, settings):
    assert register(owner_client, redirect_uris="http://127.0.0.1:8765/cb").status_code == 200
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}
    response = register(owner_client, redirect_uris="http://localhost:8765/cb")
    assert response.status_code == 400 and "must use https://" in response.content.decode()
    assert ApiClient.objects.count() == 1


def test_unverified_member_cannot_register_an_app(client, merchant):
    client.force_login(make_member(merchant, MemberRole.OWNER, email="new@shop.example", verified=False))
    response = register(client)
    assert response.status_code == 400 and "Confirm your e-mail address" in response.content.decode()
    assert not ApiClient.objects.exists()


def test_live_app_refused_while_pending(client, pending_merchant):
    client.force_login(make_member(pending_merchant, MemberRole.OWNER, email="o@pending.example"))
    assert register(client, mode="live").status_code == 400
    assert not ApiClient.objects.exists()


def pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_registered_app_connects_another_merchant_who_can_revoke_it(owner_client, merchant, other_merchant):
    """Our app, registered in the portal; a person of another merchant authorizes it, sees it, revokes it."""
    response = register(owner_client)
    app, secret = ApiClient.objects.get(), response.context["secret"]

    person = make_member(other_merchant, MemberRole.OWNER, email="boss@other.example")
    browser = Client()
    browser.force_login(person)
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": app.client_id, "redirect_uri": "https://books.example/oauth/cb",
              "scope": "payments:read refunds:write", "state": "s", "code_challenge": challenge,
              "code_challenge_method": "S256"}
    consent = browser.get("/oauth/authorize/?" + urlencode(params)).content.decode()
    assert "Bookkeeping Pro" in consent and SCOPES["refunds:write"] in consent
    response = browser.post("/oauth/authorize/", {**params, "allow": "Allow access"})
    code = parse_qs(urlparse(response["Location"]).query)["code"][0]
    auth = "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    token = Client().post("/oauth/token/", {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                           "redirect_uri": "https://books.example/oauth/cb"},
                          HTTP_AUTHORIZATION=auth).json()["access_token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/v1/merchant").json()["id"] == other_merchant.pk

    # The other merchant's portal lists the app with what it may do, who allowed it and who made it.
    page = browser.get(reverse("portal:connected_apps")).content.decode()
    assert "Bookkeeping Pro" in page and merchant.name in page and "boss@other.example" in page
    assert SCOPES["payments:read"] in page and SCOPES["refunds:write"] in page
    # Not in the app maker's own "apps with access" (nobody there authorized it).
    assert owner_client.get(reverse("portal:connected_apps")).context["authorized"] == []

    revoke = reverse("portal:authorized_app_revoke", args=[app.client_id])
    assert ">Revoke access</button>" in browser.get(revoke).content.decode()
    assert browser.post(revoke).status_code == 302
    assert not AccessToken.objects.filter(application=app).exists()
    assert not RefreshToken.objects.filter(application=app).exists()
    assert api.get("/v1/merchant").status_code == 401
    assert "No third-party app has access" in browser.get(reverse("portal:connected_apps")).content.decode()
    app.refresh_from_db()
    assert app.revoked_at is None  # the app itself lives on for its other merchants


def test_revoking_an_app_leaves_other_merchants_tokens(owner_client, owner, merchant, other_merchant):
    app, _ = make_client(other_merchant, kind=ClientKind.CONNECT, redirect_uris="https://app.example/cb",
                         name="Shared App")
    issue_token(merchant, client=app, user=owner, scopes=["payments:read"])
    stranger = make_member(other_merchant, MemberRole.VIEWER, email="x@other.example")
    issue_token(other_merchant, client=app, user=stranger, scopes=["payments:read"])
    page = owner_client.get(reverse("portal:connected_apps")).content.decode()
    assert "Shared App" in page and "x@other.example" not in page
    owner_client.post(reverse("portal:authorized_app_revoke", args=[app.client_id]))
    assert list(AccessToken.objects.filter(application=app).values_list("user", flat=True)) == [stranger.pk]


def test_revoke_an_app_we_have_not_authorized_is_404(owner_client, other_merchant):
    app, _ = make_client(other_merchant, kind=ClientKind.CONNECT, redirect_uris="https://app.example/cb")
    assert owner_client.post(reverse("portal:authorized_app_revoke", args=[app.client_id])).status_code == 404


def test_rotate_and_revoke_our_own_app(owner_client, merchant):
    app, old = make_client(merchant, kind=ClientKind.CONNECT, redirect_uris="https://app.example/cb")
    response = owner_client.post(reverse("portal:connect_app_rotate", args=[app.public_id]))
    assert response.status_code == 200 and response.context["secret"] != old
    assert owner_client.post(reverse("portal:connect_app_revoke", args=[app.public_id])).status_code == 302
    app.refresh_from_db()
    assert app.revoked_at is not None
    # A server client is not an app: not reachable through the apps pages.
    server, _ = make_client(merchant)
    assert owner_client.post(reverse("portal:connect_app_revoke", args=[server.public_id])).status_code == 404
