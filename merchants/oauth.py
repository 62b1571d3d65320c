"""OAuth2 for the platform, on django-oauth-toolkit.

- ClientScopes: a client can be granted only the scopes it is allowed; asking for none
  grants none.
- PlatformOAuth2Validator: only the client-credentials and authorization-code (+ refresh)
  grants exist; tokens load with their client and merchant in one query.
- MerchantOAuth2Authentication: DRF authentication that turns a bearer token into an
  ApiContext (merchant, client, mode, effective scopes).
- ConsentView, TokenView, RevokeTokenView, IntrospectView: the /oauth/ endpoints.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AccessToken
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from rest_framework import exceptions

from core.context import ApiContext
from core.scopes import SCOPES

from .constants import ClientKind, MerchantStatus
from .models import ApiClient, Merchant, MerchantMember

ALLOWED_GRANTS = {"client_credentials", "authorization_code", "refresh_token"}
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ClientScopes(BaseScopes):
    def get_all_scopes(self):
        return SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            return list(SCOPES)
        return [s for s in SCOPES if s in application.allowed_scope_set]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return []  # a token that asked for no scope gets none


def acting_merchant(client: ApiClient, user) -> Merchant | None:
    """The merchant a token of `client` acts for, or None when it may not act for anyone.

    A server client acts for its own merchant. A third-party app acts for the merchant of the
    person who consented, as long as that person still works for it. A suspended merchant is
    nobody's to act for, and a live-mode token needs an approved (active) merchant.
    """
    if client.kind == ClientKind.CONNECT:
        member = MerchantMember.objects.select_related("merchant").filter(user=user).first() if user else None
        merchant = member.merchant if member else None
    else:
        merchant = client.merchant
    if merchant is None or merchant.status == MerchantStatus.SUSPENDED:
        return None
    if client.livemode and merchant.status != MerchantStatus.ACTIVE:
        return None
    return merchant


class PlatformOAuth2Validator(OAuth2Validator):
    def is_pkce_required(self, client_id, request):
        # PKCE with S256 only: a "plain" challenge (or one without a method, which RFC 7636 reads
        # as plain) is refused before the consent screen is shown, not after the person allowed.
        if getattr(request, "code_challenge", None) is not None and request.code_challenge_method != "S256":
            raise oauth_errors.UnsupportedCodeChallengeMethodError(
                description='Unsupported code_challenge_method; use "S256".', request=request
            )
        return True

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if grant_type not in ALLOWED_GRANTS:
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code" and super().validate_response_type(
            client_id, response_type, client, request, *args, **kwargs
        )

    def _load_access_token(self, token):
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        # token_checksum is unique: a plain LIMIT 1, not .first()'s ORDER BY (cheaper to compile, on every request).
        rows = AccessToken.objects.select_related("application__merchant", "user").filter(token_checksum=checksum)[:1]
        return next(iter(rows), None)

    def _load_application(self, client_id, request):
        application = super()._load_application(client_id, request)
        if application is not None and not application.is_usable(request):
            return None
        return application


class MerchantOAuth2Authentication(OAuth2Authentication):
    """Bearer token -> ApiContext. A missing token is 401 `missing_token`; a bad one 401 `invalid_token`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():  # the auth scheme is case-insensitive
            exc = exceptions.AuthenticationFailed("Use `Authorization: Bearer <access token>`.")
            exc.api_code = "invalid_token"
            raise exc
        result = super().authenticate(request)
        if result is None:
            exc = exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
            exc.api_code = "invalid_token"
            raise exc
        user, token = result
        client: ApiClient = token.application
        if client is None:
            exc = exceptions.AuthenticationFailed("The access token is not bound to an API client.")
            exc.api_code = "invalid_token"
            raise exc
        merchant = acting_merchant(client, user)
        if merchant is None:
            exc = exceptions.AuthenticationFailed("The access token no longer acts for an active merchant.")
            exc.api_code = "invalid_token"
            raise exc
        scopes = frozenset(token.scope.split()) & client.allowed_scope_set
        now = timezone.now()
        if client.last_used_at is None or client.last_used_at < now - LAST_USED_RESOLUTION:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return user, ApiContext(
            merchant=merchant, client=client, livemode=client.livemode, scopes=scopes, token=token, user=user
        )


class ConsentView(dot_views.AuthorizationView):
    """The consent screen of the authorization-code flow (PKCE S256 required).

    Only a person who works for a merchant can authorize an app, and only for that merchant.
    """

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            member = MerchantMember.objects.select_related("merchant").filter(user=request.user).first()
            description = None
            if member is None:
                description = "Only people who work for a merchant can authorize apps."
            elif member.merchant.status == MerchantStatus.SUSPENDED:
                description = "Your merchant account is suspended: it cannot authorize apps."
            if description:
                return self.render_to_response(
                    {"error": {"error": "access_denied", "description": description}}, status=403
                )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        member = MerchantMember.objects.select_related("merchant").filter(user=self.request.user).first()
        context["merchant"] = member.merchant if member else None
        context["scope_items"] = [(s, SCOPES.get(s, s)) for s in context.get("scopes", [])]
        return context


class TokenView(dot_views.TokenView):
    pass


class RevokeTokenView(dot_views.RevokeTokenView):
    pass


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(View):
    """RFC 7662 token introspection for API clients.

    The caller authenticates with its own client id and secret (HTTP Basic or form body) and
    learns about its own tokens only: any other client's token is reported inactive.
    """

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        core = get_oauthlib_core()
        uri, http_method, body, headers = core._extract_params(request)
        oauth_request = OauthlibRequest(uri, http_method, body, headers)
        if not core.server.request_validator.authenticate_client(oauth_request):
            return JsonResponse({"error": "invalid_client"}, status=401)
        caller = oauth_request.client
        token_value = request.POST.get("token")
        if not token_value:
            return JsonResponse({"error": "invalid_request", "error_description": "token is missing"}, status=400)
        checksum = hashlib.sha256(token_value.encode()).hexdigest()
        token = AccessToken.objects.select_related("application", "user").filter(token_checksum=checksum).first()
        if token is None or token.application_id != caller.pk or not token.is_valid():
            return JsonResponse({"active": False})
        merchant = acting_merchant(caller, token.user)
        if merchant is None:
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                # The scopes the API honours: the token's, less any the client has since lost.
                "scope": " ".join(s for s in token.scope.split() if s in caller.allowed_scope_set),
                "client_id": caller.client_id,
                "token_type": "Bearer",
                "exp": int(token.expires.timestamp()),
                "merchant_id": merchant.pk,
                "livemode": caller.livemode,
            }
        )
