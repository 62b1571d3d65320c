"""Who may do what in the portal.

Every portal view is wrapped in `portal_view(capability)`. It requires a signed-in user who is a
member of a merchant, resolves the merchant and the mode the member is looking at (test or live),
and refuses (403 page) a member whose role lacks the capability. The view then finds everything it
needs on `request.portal` (a `PortalContext`).

Roles (merchants.constants.MemberRole):
- owner: everything, including the team and live-mode credentials.
- developer: credentials, webhooks, connected apps, refunds; not the team.
- viewer: reads only (dashboard, payments, money, logs, exports).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from merchants.constants import MemberRole, MerchantStatus

OWNER, DEVELOPER, VIEWER = MemberRole.OWNER, MemberRole.DEVELOPER, MemberRole.VIEWER

CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset({OWNER, DEVELOPER, VIEWER}),
    "refund": frozenset({OWNER, DEVELOPER}),
    "manage_credentials": frozenset({OWNER, DEVELOPER}),
    "manage_webhooks": frozenset({OWNER, DEVELOPER}),
    "manage_connected_apps": frozenset({OWNER, DEVELOPER}),
    "manage_team": frozenset({OWNER}),
}

SESSION_MODE_KEY = "portal_livemode"


@dataclass(frozen=True)
class PortalContext:
    user: object
    member: object
    merchant: object
    role: str
    livemode: bool

    @property
    def email_verified(self) -> bool:
        """The member confirmed their e-mail address (sign-up); until then no invitations, live or app credentials."""
        return self.member.email_verified_at is not None

    @property
    def live_allowed(self) -> bool:
        """Live mode opens once bank staff have approved the merchant."""
        return self.merchant.status == MerchantStatus.ACTIVE

    def can(self, capability: str) -> bool:
        return self.role in CAPABILITIES[capability]

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(name for name, roles in CAPABILITIES.items() if self.role in roles)


def portal_context(request) -> PortalContext | None:
    user = request.user
    if not user.is_authenticated:
        return None
    member = getattr(user, "merchant_member", None)
    if member is None:
        return None
    merchant = member.merchant
    livemode = bool(request.session.get(SESSION_MODE_KEY)) and merchant.status == MerchantStatus.ACTIVE
    return PortalContext(user=user, member=member, merchant=merchant, role=member.role, livemode=livemode)


def forbidden(request, message: str):
    return render(request, "portal/forbidden.html", {"message": message}, status=403)


def portal_view(capability: str = "view"):
    """Decorator for portal views: signed-in merchant member with `capability`."""
    if capability not in CAPABILITIES:
        raise ValueError(f"Unknown portal capability {capability!r}")

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "portal:login")
            ctx = portal_context(request)
            if ctx is None:
                return forbidden(request, "This account is not a member of any merchant.")
            if ctx.merchant.status == MerchantStatus.SUSPENDED:
                return forbidden(request, "This merchant account is suspended. Contact the bank.")
            if not ctx.can(capability):
                return forbidden(request, f"Your role ({ctx.member.get_role_display()}) does not allow this.")
            request.portal = ctx
            return view(request, *args, **kwargs)

        wrapped.portal_capability = capability
        return wrapped

    return decorate
