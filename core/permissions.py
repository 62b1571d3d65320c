"""Scope checks and rate limits for the API (no DRF view imports: loaded by DRF's settings)."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from core.context import ApiContext


class InsufficientScope(exceptions.PermissionDenied):
    api_code = "insufficient_scope"


class HasRequiredScopes(BasePermission):
    """Deny by default: the method must be listed in the view's `required_scopes`."""

    def has_permission(self, request, view):
        context = request.auth
        if not isinstance(context, ApiContext):
            raise exceptions.NotAuthenticated()
        needed = getattr(view, "required_scopes", {}).get(request.method)
        if needed is None:
            raise exceptions.PermissionDenied("This operation is not available to API clients.")
        missing = [s for s in needed if s not in context.scopes]
        if missing:
            raise InsufficientScope(
                f"The access token lacks the scope(s) this operation needs: {' '.join(missing)}."
            )
        return True


class ClientRateThrottle(SimpleRateThrottle):
    """Rate limit per API client (429 `rate_limit_error`)."""

    scope = "client"

    def get_cache_key(self, request, view):
        context = request.auth
        if isinstance(context, ApiContext):
            return f"throttle:client:{context.client_id}"
        return f"throttle:ip:{self.get_ident(request)}"
