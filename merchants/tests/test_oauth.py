"""OAuth2 at /oauth/ and bearer-token authentication of the /v1 API."""

import base64
import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken
from rest_framework.test import APIClient

from core.scopes import MERCHANT_SCOPES, SCOPES
from merchants import services
from merchants.constants import ClientKind, MerchantStatus
from merchants.models import ApiClient, Merchant, MerchantMember
from merchants.tests.factories import issue_token, make_client

REDIRECT_URI = "https://app.example/cb"
BASE_DIR = Path(__file__).resolve().parents[2]


# --- helpers -------------------------------------------------------------------------------------


def basic_auth(client_id: str, secret: str) -> str:
    raw = f"{client_id}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def request_token(client, client_id, secret, *, basic=True, **params):
    data = {"grant_type": "client_credentials", **params}
    if basic:
        return client.post("/oauth/token/", data, HTTP_AUTHORIZATION=basic_auth(client_id, secret))
    return client.post("/oauth/token/", {**data, "client_id": client_id, "client_secret": secret})


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def assert_api_error(response, status, type_, code=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["type"] == type_
    if code is not None:
        assert error["code"] == code
    assert error["request_id"] == response["Request-Id"]
    return error


@pytest.fixture
def server_client(merchant):
    """A test-mode client-credentials client of `merchant` with every merchant scope: (client, secret)."""
    return make_client(merchant)


@pytest.fixture
def connect_app(other_merchant):
    """A third-party app (authorization code + PKCE), registered by another merchant."""
    return services.api_client_create(
        merchant=other_merchant,
        name="Bookkeeping App",
        kind=ClientKind.CONNECT,
        redirect_uris=REDIRECT_URI,
        scopes=["payments:read", "refunds:write"],
    )


@pytest.fixture
def member(merchant):
    user = get_user_model().objects.create_user(username="owner", password="correct horse battery")
    services.member_add(merchant=merchant, user=user)
    return user


# --- client credentials --------------------------------------------------------------------------


@pytest.mark.parametrize("basic", [True, False], ids=["http-basic", "form-body"])
def test_client_credentials_token_with_requested_scopes(client, server_client, merchant, basic):
    app, secret = server_client
    r = request_token(client, app.client_id, secret, basic=basic, scope="payments:read payments:write")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"payments:read", "payments:write"}
    assert "refresh_token" not in body  # client credentials get no refresh token (RFC 6749 4.4.3)
    assert 0 < body["expires_in"] <= 3600

    stored = AccessToken.objects.get(application=app)
    assert stored.expires <= timezone.now() + timedelta(seconds=3600)

    r = bearer(body["access_token"]).get("/v1/merchant")
    assert r.status_code == 200, r.content
    assert r.json()["id"] == merchant.pk
    assert r.json()["scopes"] == ["payments:read", "payments:write"]
    assert r.json()["livemode"] is False


def test_wrong_client_secret_is_refused(client, server_client):
    app, _ = server_client
    r = request_token(client, app.client_id, "not-the-secret", scope="payments:read")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_scope_the_client_is_not_allowed_is_invalid_scope(client, merchant):
    app, secret = make_client(merchant, scopes=["payments:read"])
    r = request_token(client, app.client_id, secret, scope="payments:read payments:write")
    assert r.status_code == 400, r.content
    assert r.json()["error"] == "invalid_scope"
    r = request_token(client, app.client_id, secret, scope="admin:everything")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.filter(application=app).exists()


def test_token_without_scope_gets_no_scopes(client, server_client, merchant):
    app, secret = server_client
    r = request_token(client, app.client_id, secret)
    assert r.status_code == 200, r.content
    token = r.json()["access_token"]
    assert r.json().get("scope", "") == ""
    assert AccessToken.objects.get(application=app).scope == ""

    api = bearer(token)
    assert_api_error(api.get("/v1/payments"), 403, "permission_error", "insufficient_scope")
    r = api.get("/v1/merchant")
    assert r.status_code == 200
    assert r.json()["id"] == merchant.pk
    assert r.json()["scopes"] == []


def test_client_secret_is_stored_hashed(server_client):
    app, secret = server_client
    stored = ApiClient.objects.get(pk=app.pk).client_secret
    assert stored != secret
    assert secret not in stored
    identify_hasher(stored)  # a Django password hash, not the clear secret
    assert check_password(secret, stored)


def test_password_grant_is_refused(client, server_client, member):
    app, secret = server_client
    r = client.post(
        "/oauth/token/",
        {"grant_type": "password", "username": "owner", "password": "correct horse battery", "scope": "payments:read"},
        HTTP_AUTHORIZATION=basic_auth(app.client_id, secret),
    )
    assert r.status_code in (400, 401), r.content
    assert "access_token" not in r.json()
    assert not AccessToken.objects.exists()


# --- bearer tokens on the API ------------------------------------------------------------------------


def test_no_authorization_header_is_401(anon_api):
    r = anon_api.get("/v1/payments")
    assert_api_error(r, 401, "authentication_error", "missing_token")
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "bearerabc"],
)
def test_malformed_authorization_header_is_invalid_token(db, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    assert_api_error(api.get("/v1/merchant"), 401, "authentication_error", "invalid_token")


def test_bearer_scheme_is_case_insensitive(merchant):
    _, token = issue_token(merchant, scopes=["payments:read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"bearer {token}")
    r = api.get("/v1/merchant")
    assert r.status_code == 200, r.content
    assert r.json()["id"] == merchant.pk


def test_unknown_token_is_invalid_token(db):
    r = bearer("no-such-token").get("/v1/merchant")
    assert_api_error(r, 401, "authentication_error", "invalid_token")
    assert 'error="invalid_token"' in r["WWW-Authenticate"]


def test_expired_token_is_invalid_token(merchant):
    _, token = issue_token(merchant, expires_in=-1)
    assert_api_error(bearer(token).get("/v1/merchant"), 401, "authentication_error", "invalid_token")


def test_missing_scope_is_403_insufficient_scope(merchant):
    _, token = issue_token(merchant, scopes=["payments:read"])
    api = bearer(token)
    assert api.get("/v1/payments").status_code == 200
    error = assert_api_error(
        api.post("/v1/payments", {"amount": 100, "currency": "EUR"}, format="json"),
        403,
        "permission_error",
        "insufficient_scope",
    )
    assert "payments:write" in error["message"]
    assert_api_error(api.get("/v1/cards/card_x"), 403, "permission_error", "insufficient_scope")


def test_token_scope_is_capped_by_the_clients_allowed_scopes(merchant):
    """Narrowing a client's scopes takes effect on tokens it already holds."""
    app, token = issue_token(merchant, scopes=MERCHANT_SCOPES)
    services.api_client_set_scopes(client=app, scopes=["payments:read"])
    api = bearer(token)
    assert api.get("/v1/merchant").json()["scopes"] == ["payments:read"]
    assert_api_error(api.get("/v1/cards/card_x"), 403, "permission_error", "insufficient_scope")


def test_another_merchants_payment_is_404(api, other_merchant):
    from payments.tests.factories import make_payment

    theirs = make_payment(other_merchant)
    assert_api_error(api.get(f"/v1/payments/{theirs.pk}"), 404, "not_found")
    mine = make_payment(api.merchant)
    assert api.get(f"/v1/payments/{mine.pk}").status_code == 200


def test_revoked_client_token_stops_working(client, server_client):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]
    api = bearer(token)
    assert api.get("/v1/payments").status_code == 200

    services.api_client_revoke(client=app)

    assert_api_error(api.get("/v1/payments"), 401, "authentication_error", "invalid_token")
    r = request_token(client, app.client_id, secret, scope="payments:read")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_revoked_client_token_left_in_db_is_refused(merchant):
    """Even if a token row survived the revocation, the client's revoked_at refuses it."""
    app, token = issue_token(merchant)
    ApiClient.objects.filter(pk=app.pk).update(revoked_at=timezone.now())
    assert_api_error(bearer(token).get("/v1/merchant"), 401, "authentication_error", "invalid_token")


def test_suspended_merchant_client_is_refused(client, server_client, merchant):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]

    services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.SUSPENDED, actor="test")

    assert_api_error(bearer(token).get("/v1/merchant"), 401, "authentication_error", "invalid_token")
    r = request_token(client, app.client_id, secret, scope="payments:read")
    assert r.status_code == 401
    assert "access_token" not in r.json()

    services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.ACTIVE, actor="test")
    assert bearer(token).get("/v1/merchant").status_code == 200


# --- authorization code + PKCE -------------------------------------------------------------------------


def authorize_params(app, challenge=None, method="S256", **extra):
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "payments:read refunds:write",
        "state": "st4te",
    }
    if challenge is not None:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = method
    params.update(extra)
    return params


def consent(client, app, challenge, method="S256"):
    """Show the consent screen, then allow. Returns the redirect's query parameters."""
    params = authorize_params(app, challenge, method)
    r = client.get("/oauth/authorize/?" + urlencode(params))
    assert r.status_code == 200, r.content
    r = client.post("/oauth/authorize/", {**params, "allow": "Allow access"})
    assert r.status_code == 302, r.content
    location = urlparse(r["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def exchange_code(client, app, secret, code, verifier):
    return client.post(
        "/oauth/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        HTTP_AUTHORIZATION=basic_auth(app.client_id, secret),
    )


def test_authorization_code_flow_end_to_end(client, connect_app, member, merchant, other_merchant):
    app, secret = connect_app
    client.force_login(member)
    verifier, challenge = pkce_pair()

    r = client.get("/oauth/authorize/?" + urlencode(authorize_params(app, challenge)))
    assert r.status_code == 200
    page = r.content.decode()
    assert SCOPES["payments:read"] in page
    assert SCOPES["refunds:write"] in page
    assert SCOPES["cards:write"] not in page
    assert merchant.name in page
    assert "Bookkeeping App" in page

    query = consent(client, app, challenge)
    assert query["state"] == "st4te"
    assert "code" in query
    assert query["iss"] == settings.BASE_URL  # RFC 9207 issuer identification
    assert Grant.objects.filter(application=app, user=member).count() == 1

    client.logout()  # the token exchange is server to server
    r = exchange_code(client, app, secret, query["code"], verifier)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["access_token"] and body["refresh_token"]
    assert set(body["scope"].split()) == {"payments:read", "refunds:write"}
    assert 0 < body["expires_in"] <= 3600

    # The token acts for the consenting member's merchant, not the app developer's.
    r = bearer(body["access_token"]).get("/v1/merchant")
    assert r.status_code == 200, r.content
    assert r.json()["id"] == merchant.pk != other_merchant.pk
    assert r.json()["scopes"] == ["payments:read", "refunds:write"]

    # A code is good for one exchange only.
    r = exchange_code(client, app, secret, query["code"], verifier)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_authorize_requires_login(client, connect_app):
    app, _ = connect_app
    _, challenge = pkce_pair()
    r = client.get("/oauth/authorize/?" + urlencode(authorize_params(app, challenge)))
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_consent_denied_gives_no_code(client, connect_app, member):
    app, _ = connect_app
    client.force_login(member)
    _, challenge = pkce_pair()
    r = client.post("/oauth/authorize/", authorize_params(app, challenge))  # no "allow"
    assert r.status_code == 302
    query = parse_qs(urlparse(r["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert "code" not in query
    assert not Grant.objects.exists()


def _assert_authorize_refused(response, error=None):
    """Refused before consent: no consent form and no code, at most an error redirect."""
    assert b"authorizationForm" not in response.content
    if response.status_code == 302:
        query = parse_qs(urlparse(response["Location"]).query)
        fragment = parse_qs(urlparse(response["Location"]).fragment)
        assert "code" not in query
        assert "access_token" not in fragment
        if error:
            assert (query.get("error") or fragment.get("error")) == [error]
    else:
        assert response.status_code >= 400


def test_authorize_without_code_challenge_is_refused(client, connect_app, member):
    app, _ = connect_app
    client.force_login(member)
    r = client.get("/oauth/authorize/?" + urlencode(authorize_params(app, challenge=None)))
    _assert_authorize_refused(r, "invalid_request")
    r = client.post("/oauth/authorize/", {**authorize_params(app, challenge=None), "allow": "Allow access"})
    _assert_authorize_refused(r, "invalid_request")
    assert not Grant.objects.exists()


def test_authorize_with_plain_code_challenge_is_refused(client, connect_app, member):
    app, _ = connect_app
    client.force_login(member)
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(app, challenge=verifier, method="plain")
    _assert_authorize_refused(client.get("/oauth/authorize/?" + urlencode(params)), "invalid_request")
    _assert_authorize_refused(client.post("/oauth/authorize/", {**params, "allow": "Allow access"}), "invalid_request")
    assert not Grant.objects.exists()
    # A challenge without a method means "plain" (RFC 7636 4.3): refused as well.
    params.pop("code_challenge_method")
    _assert_authorize_refused(client.get("/oauth/authorize/?" + urlencode(params)), "invalid_request")


def test_wrong_code_verifier_is_refused(client, connect_app, member):
    app, secret = connect_app
    client.force_login(member)
    _, challenge = pkce_pair()
    code = consent(client, app, challenge)["code"]
    r = exchange_code(client, app, secret, code, secrets.token_urlsafe(48))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    r = client.post(
        "/oauth/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=basic_auth(app.client_id, secret),
    )
    assert r.status_code == 400
    assert "access_token" not in r.json()
    assert not AccessToken.objects.exists()


def test_implicit_grant_is_refused(client, connect_app, member):
    app, _ = connect_app
    client.force_login(member)
    _, challenge = pkce_pair()
    params = authorize_params(app, challenge, response_type="token")
    _assert_authorize_refused(client.get("/oauth/authorize/?" + urlencode(params)), "unauthorized_client")
    _assert_authorize_refused(client.post("/oauth/authorize/", {**params, "allow": "Allow access"}),
                              "unauthorized_client")
    assert not AccessToken.objects.exists()


def test_server_client_cannot_use_the_authorization_code_flow(client, server_client, member):
    app, _ = server_client
    ApiClient.objects.filter(pk=app.pk).update(redirect_uris=REDIRECT_URI)
    client.force_login(member)
    _, challenge = pkce_pair()
    r = client.get("/oauth/authorize/?" + urlencode(authorize_params(app, challenge, scope="payments:read")))
    _assert_authorize_refused(r)


def test_connect_client_cannot_use_client_credentials(client, connect_app):
    app, secret = connect_app
    r = request_token(client, app.client_id, secret, scope="payments:read")
    assert r.status_code in (400, 401)
    assert "access_token" not in r.json()


def test_user_without_merchant_gets_403_consent_error(client, connect_app):
    app, _ = connect_app
    outsider = get_user_model().objects.create_user(username="outsider", password="correct horse battery")
    client.force_login(outsider)
    _, challenge = pkce_pair()
    params = authorize_params(app, challenge)
    r = client.get("/oauth/authorize/?" + urlencode(params))
    assert r.status_code == 403
    assert b"authorizationForm" not in r.content
    assert b"Only people who work for a merchant" in r.content
    r = client.post("/oauth/authorize/", {**params, "allow": "Allow access"})
    assert r.status_code == 403
    assert not Grant.objects.exists()


def test_member_of_suspended_merchant_cannot_authorize(client, connect_app, member, merchant):
    app, _ = connect_app
    services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.SUSPENDED, actor="test")
    client.force_login(member)
    _, challenge = pkce_pair()
    params = authorize_params(app, challenge)
    r = client.get("/oauth/authorize/?" + urlencode(params))
    assert r.status_code == 403
    r = client.post("/oauth/authorize/", {**params, "allow": "Allow access"})
    assert r.status_code == 403
    assert not Grant.objects.exists()


def _connect_tokens(client, app, secret, member):
    client.force_login(member)
    verifier, challenge = pkce_pair()
    code = consent(client, app, challenge)["code"]
    client.logout()
    r = exchange_code(client, app, secret, code, verifier)
    assert r.status_code == 200, r.content
    return r.json()


def test_connect_token_stops_working_when_the_consenting_merchant_is_suspended(
    client, connect_app, member, merchant
):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    api = bearer(tokens["access_token"])
    assert api.get("/v1/merchant").status_code == 200
    services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.SUSPENDED, actor="test")
    assert_api_error(api.get("/v1/merchant"), 401, "authentication_error", "invalid_token")


def test_connect_token_stops_working_when_the_member_leaves(client, connect_app, member):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    api = bearer(tokens["access_token"])
    assert api.get("/v1/merchant").status_code == 200
    MerchantMember.objects.filter(user=member).delete()
    assert_api_error(api.get("/v1/merchant"), 401, "authentication_error", "invalid_token")
    assert introspect(client, tokens["access_token"], app.client_id, secret).json() == {"active": False}


def test_refresh_token_rotates(client, connect_app, member):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    auth = basic_auth(app.client_id, secret)

    r = client.post("/oauth/token/", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    HTTP_AUTHORIZATION=auth)
    assert r.status_code == 200, r.content
    new = r.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert set(new["scope"].split()) == {"payments:read", "refunds:write"}
    assert bearer(new["access_token"]).get("/v1/merchant").status_code == 200

    # The used refresh token is spent.
    r = client.post("/oauth/token/", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    HTTP_AUTHORIZATION=auth)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "access_token" not in r.json()

    # Replaying a spent refresh token revokes the whole family (REFRESH_TOKEN_REUSE_PROTECTION).
    r = client.post("/oauth/token/", {"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
                    HTTP_AUTHORIZATION=auth)
    assert r.status_code == 400
    assert "access_token" not in r.json()


def test_refresh_token_cannot_widen_scope(client, connect_app, member):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    r = client.post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "cards:write"},
        HTTP_AUTHORIZATION=basic_auth(app.client_id, secret),
    )
    assert r.status_code == 400
    assert "access_token" not in r.json()


# --- revocation and introspection ------------------------------------------------------------------


def test_revoke_token_stops_the_access_token(client, server_client):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]
    api = bearer(token)
    assert api.get("/v1/merchant").status_code == 200

    r = client.post("/oauth/revoke_token/", {"token": token, "token_type_hint": "access_token"},
                    HTTP_AUTHORIZATION=basic_auth(app.client_id, secret))
    assert r.status_code == 200, r.content

    assert_api_error(api.get("/v1/merchant"), 401, "authentication_error", "invalid_token")


def test_revoke_refresh_token(client, connect_app, member):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    auth = basic_auth(app.client_id, secret)
    r = client.post("/oauth/revoke_token/", {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
                    HTTP_AUTHORIZATION=auth)
    assert r.status_code == 200
    r = client.post("/oauth/token/", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    HTTP_AUTHORIZATION=auth)
    assert r.status_code == 400
    assert not RefreshToken.objects.filter(application=app, revoked__isnull=True).exists()


def test_another_client_cannot_revoke_my_token(client, server_client, merchant):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]
    intruder, intruder_secret = make_client(merchant, name="Intruder")
    client.post("/oauth/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(intruder.client_id,
                                                                                        intruder_secret))
    assert bearer(token).get("/v1/merchant").status_code == 200


def introspect(client, token, client_id=None, secret=None):
    headers = {"HTTP_AUTHORIZATION": basic_auth(client_id, secret)} if client_id else {}
    return client.post("/oauth/introspect/", {"token": token}, **headers)


def test_introspect_own_token(client, server_client, merchant):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read cards:read").json()["access_token"]
    r = introspect(client, token, app.client_id, secret)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["active"] is True
    assert set(body["scope"].split()) == {"payments:read", "cards:read"}
    assert body["client_id"] == app.client_id
    assert body["merchant_id"] == merchant.pk
    stored = AccessToken.objects.get(application=app)
    assert body["exp"] == int(stored.expires.timestamp())
    assert body["exp"] > timezone.now().timestamp()

    # Scopes the client has since lost are not reported (the API would not honour them either).
    services.api_client_set_scopes(client=app, scopes=["payments:read"])
    assert introspect(client, token, app.client_id, secret).json()["scope"] == "payments:read"

    # Form-body client authentication works too.
    r = client.post("/oauth/introspect/", {"token": token, "client_id": app.client_id, "client_secret": secret})
    assert r.json()["active"] is True


def test_introspect_reports_connect_token_merchant_of_the_consenting_member(
    client, connect_app, member, merchant, other_merchant
):
    app, secret = connect_app
    tokens = _connect_tokens(client, app, secret, member)
    body = introspect(client, tokens["access_token"], app.client_id, secret).json()
    assert body["active"] is True
    # The token acts for the member's merchant, exactly as the API treats it.
    assert body["merchant_id"] == merchant.pk != other_merchant.pk


def test_introspect_with_another_clients_credentials_is_inactive(client, server_client, other_merchant):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]
    other, other_secret = make_client(other_merchant)
    r = introspect(client, token, other.client_id, other_secret)
    assert r.status_code == 200
    assert r.json() == {"active": False}


def test_introspect_expired_revoked_and_unknown_tokens_are_inactive(client, server_client, merchant):
    app, secret = server_client
    _, expired = issue_token(merchant, client=app, expires_in=-1)
    assert introspect(client, expired, app.client_id, secret).json() == {"active": False}
    assert introspect(client, "nope", app.client_id, secret).json() == {"active": False}


def test_introspect_unauthenticated_is_401(client, server_client):
    app, secret = server_client
    token = request_token(client, app.client_id, secret, scope="payments:read").json()["access_token"]
    r = introspect(client, token)
    assert r.status_code == 401
    assert "active" not in r.json()
    r = introspect(client, token, app.client_id, "wrong-secret")
    assert r.status_code == 401
    assert "active" not in r.json()


def test_introspect_without_token_is_400(client, server_client):
    app, secret = server_client
    r = client.post("/oauth/introspect/", {}, HTTP_AUTHORIZATION=basic_auth(app.client_id, secret))
    assert r.status_code == 400


# --- seed_demo -------------------------------------------------------------------------------------


SEED_DEMO_KEYS = {"base_url", "merchant_id", "client_id", "client_secret", "staff_username", "staff_password",
                  "portal_login"}


def run_seed_demo(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_json_prints_only_the_documented_object(db):
    out = run_seed_demo("--json")
    data = json.loads(out)  # the whole of stdout is one JSON object
    assert set(data) == SEED_DEMO_KEYS
    assert out.strip().startswith("{") and out.strip().endswith("}")


def test_seed_demo_is_idempotent_and_grants_every_scope(client, db):
    first = json.loads(run_seed_demo("--json"))
    second = json.loads(run_seed_demo("--json"))
    assert first == second

    assert Merchant.objects.count() == 1
    assert ApiClient.objects.count() == 1
    demo = ApiClient.objects.get()
    assert demo.client_id == first["client_id"]
    assert demo.merchant_id == first["merchant_id"]
    assert demo.merchant.status == MerchantStatus.ACTIVE
    assert demo.livemode is False
    assert demo.allowed_scope_set == set(MERCHANT_SCOPES)
    assert demo.client_secret != first["client_secret"]

    staff = get_user_model().objects.get(username=first["staff_username"])
    assert staff.is_staff and staff.is_superuser
    assert staff.check_password(first["staff_password"])

    # The printed credentials work and the token can hold every merchant scope.
    r = request_token(client, first["client_id"], first["client_secret"], scope=" ".join(MERCHANT_SCOPES))
    assert r.status_code == 200, r.content
    assert set(r.json()["scope"].split()) == set(MERCHANT_SCOPES)
    assert bearer(r.json()["access_token"]).get("/v1/merchant").json()["id"] == first["merchant_id"]


def test_seed_demo_gives_the_demo_merchant_a_portal_owner(client, db):
    """The printed portal log-in and staff password open the portal as the demo merchant's owner, through the
    log-in form (README: Merchant portal); a second run restores a changed address, password or active flag."""
    data = json.loads(run_seed_demo("--json"))
    assert data["portal_login"] == "owner@demo-merchant.example"
    owner = get_user_model().objects.get(email=data["portal_login"])
    owner.email, owner.is_active = "someone@else.example", False
    owner.set_password("changed-password-123")
    owner.save()
    assert json.loads(run_seed_demo("--json")) == data

    r = client.post("/portal/login/", {"username": data["portal_login"], "password": data["staff_password"]})
    assert r.status_code == 302 and r["Location"] == "/portal/", r.content[:300]
    portal = client.get("/portal/").context["portal"]
    assert (portal.merchant.pk, portal.role, portal.email_verified, portal.live_allowed) == (
        data["merchant_id"], "owner", True, True)


def test_seed_demo_restores_scopes_removed_from_the_demo_client(db):
    first = json.loads(run_seed_demo("--json"))
    demo = ApiClient.objects.get(client_id=first["client_id"])
    services.api_client_set_scopes(client=demo, scopes=["payments:read"])
    run_seed_demo()
    assert ApiClient.objects.get(pk=demo.pk).allowed_scope_set == set(MERCHANT_SCOPES)


def test_seed_demo_json_from_the_command_line(tmp_path):
    """As a newcomer runs it: a fresh database, twice, stdout holding nothing but the JSON object."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--verbosity", "0")
    first, second = manage("seed_demo", "--json"), manage("seed_demo", "--json")
    data = json.loads(first)
    assert set(data) == SEED_DEMO_KEYS
    assert json.loads(second) == data
    assert first.strip() == json.dumps(data)


def test_seed_demo_refuses_production(db, settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError):
        run_seed_demo("--json")
    assert not Merchant.objects.exists()

