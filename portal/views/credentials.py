"""API credentials (server clients) and connected apps (third-party OAuth apps).

A client's secret is shown exactly once: in the answer to the POST that created or rotated it (never
cached, never stored in the session). django-oauth-toolkit keeps only its hash. Live-mode clients exist
once the bank approved the merchant; only owners with a confirmed e-mail address create or rotate them.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError, StateError
from core.scopes import SCOPES
from merchants import account_selectors, accounts, services
from merchants.constants import ClientKind, MemberRole

from ..access import forbidden, portal_view
from ..forms import ApiClientForm, ConnectAppForm
from .accounts import form_error, portal_audit

KIND_PAGES = {
    ClientKind.SERVER: {"list": "portal:credentials", "rotate": "portal:credential_rotate",
                        "revoke": "portal:credential_revoke", "noun": "API client"},
    ClientKind.CONNECT: {"list": "portal:connected_apps", "rotate": "portal:connect_app_rotate",
                         "revoke": "portal:connect_app_revoke", "noun": "app"},
}


def _check_may_write(request, *, livemode: bool, new_client: bool = False, kind: str = ClientKind.SERVER) -> None:
    """Refuse, with the reason, what this member may not do (services re-check what they can)."""
    ctx = request.portal
    if livemode and not ctx.live_allowed:
        raise StateError("Live mode opens once the bank has approved your account. Until then, use test mode.",
                         code="merchant_not_active")
    if livemode and ctx.role != MemberRole.OWNER:
        raise StateError("Only owners create or rotate live-mode credentials.", code="owner_only")
    if (livemode or kind == ClientKind.CONNECT) and new_client and not ctx.email_verified:
        what = "register a third-party app" if kind == ClientKind.CONNECT else "create live-mode credentials"
        raise StateError(f"Confirm your e-mail address before you {what}.", code="email_unverified")


def _secret_page(request, client, secret, *, rotated: bool):
    response = render(request, "portal/secret_once.html", {
        "client": client, "secret": secret, "rotated": rotated, "pages": KIND_PAGES[client.kind]})
    response["Cache-Control"] = "no-store"
    return response


def _list_page(request, kind, form, status=200):
    merchant = request.portal.merchant
    context = {
        "clients": list(account_selectors.api_clients(merchant_id=merchant.pk, kind=kind)),
        "form": form, "scopes": SCOPES, "pages": KIND_PAGES[kind],
    }
    if kind == ClientKind.CONNECT:
        context["authorized"] = account_selectors.authorized_apps(merchant_id=merchant.pk)
        template = "portal/connected_apps.html"
    else:
        template = "portal/credentials.html"
    return render(request, template, context, status=status)


def _create(request, kind):
    form_class = ConnectAppForm if kind == ClientKind.CONNECT else ApiClientForm
    form = form_class(request.POST or None)
    if request.method != "POST":
        if request.portal.livemode:
            form.initial["mode"] = "live"
        return _list_page(request, kind, form)
    if form.is_valid():
        data = form.cleaned_data
        livemode = data["mode"] == "live"
        try:
            _check_may_write(request, livemode=livemode, new_client=True, kind=kind)
            client, secret = services.api_client_create(
                merchant=request.portal.merchant, name=data["name"], livemode=livemode, scopes=data["scopes"],
                kind=kind, redirect_uris=data.get("redirect_uris", ""))
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            portal_audit(request, action="api_client.created", object_type="api_client", object_id=client.public_id,
                         kind=kind, livemode=livemode, scopes=client.allowed_scopes)
            return _secret_page(request, client, secret, rotated=False)
    return _list_page(request, kind, form, status=400)


def _client_or_404(request, public_id, kind):
    client = account_selectors.api_client_get(merchant_id=request.portal.merchant.pk, public_id=public_id, kind=kind)
    if client is None:
        return None, render(request, "portal/not_found.html", {"message": f"No such {KIND_PAGES[kind]['noun']}."},
                            status=404)
    return client, None


def _rotate(request, public_id, kind):
    client, missing = _client_or_404(request, public_id, kind)
    if missing:
        return missing
    pages = KIND_PAGES[kind]
    try:
        _check_may_write(request, livemode=client.livemode, kind=kind)
        if client.revoked_at is not None:
            raise StateError("This client is revoked; create a new one.", code="client_revoked")
    except ApplicationError as exc:
        return forbidden(request, exc.message)
    if request.method == "POST":
        try:
            secret = services.api_client_set_secret(client=client)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(pages["list"])
        portal_audit(request, action="api_client.secret_rotated", object_type="api_client",
                     object_id=client.public_id)
        return _secret_page(request, client, secret, rotated=True)
    return render(request, "portal/confirm.html", {
        "title": "Rotate secret", "question": f"Make a new secret for {client.name}?",
        "details": "The current secret stops working at once: tokens it already obtained stay valid until they "
                   "expire (at most an hour). The new secret is shown once.",
        "button": "Rotate secret", "danger": True, "back": pages["list"]})


def _revoke(request, public_id, kind):
    client, missing = _client_or_404(request, public_id, kind)
    if missing:
        return missing
    pages = KIND_PAGES[kind]
    if request.method == "POST":
        services.api_client_revoke(client=client)
        portal_audit(request, action="api_client.revoked", object_type="api_client", object_id=client.public_id)
        messages.success(request, f"{client.name} is revoked: its secret and every token it holds stopped working.")
        return redirect(pages["list"])
    what = ("Every merchant that authorized it loses the connection, and " if kind == ClientKind.CONNECT else "")
    return render(request, "portal/confirm.html", {
        "title": f"Revoke {pages['noun']}", "question": f"Revoke {client.name} ({client.client_id})?",
        "details": f"{what}its secret and every token it holds stop working at once. This cannot be undone.",
        "button": f"Revoke {pages['noun']}", "danger": True, "back": pages["list"]})


# --- API credentials ---------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@portal_view("manage_credentials")
def credentials(request):
    return _create(request, ClientKind.SERVER)


@never_cache
@require_http_methods(["GET", "POST"])
@portal_view("manage_credentials")
def credential_rotate(request, public_id):
    return _rotate(request, public_id, ClientKind.SERVER)


@require_http_methods(["GET", "POST"])
@portal_view("manage_credentials")
def credential_revoke(request, public_id):
    return _revoke(request, public_id, ClientKind.SERVER)


# --- Connected apps ------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@portal_view("manage_connected_apps")
def connected_apps(request):
    return _create(request, ClientKind.CONNECT)


@never_cache
@require_http_methods(["GET", "POST"])
@portal_view("manage_connected_apps")
def connect_app_rotate(request, public_id):
    return _rotate(request, public_id, ClientKind.CONNECT)


@require_http_methods(["GET", "POST"])
@portal_view("manage_connected_apps")
def connect_app_revoke(request, public_id):
    return _revoke(request, public_id, ClientKind.CONNECT)


@require_http_methods(["GET", "POST"])
@portal_view("manage_connected_apps")
def authorized_app_revoke(request, client_id):
    merchant = request.portal.merchant
    app = next((a for a in account_selectors.authorized_apps(merchant_id=merchant.pk)
                if a.client.client_id == client_id), None)
    if app is None:
        return render(request, "portal/not_found.html",
                      {"message": "This app has no access to your account."}, status=404)
    if request.method == "POST":
        accounts.authorized_app_revoke(merchant=merchant, client_id=client_id)
        portal_audit(request, action="authorized_app.revoked", object_type="api_client",
                     object_id=app.client.public_id)
        messages.success(request, f"{app.client.name} no longer has access to {merchant.name}.")
        return redirect("portal:connected_apps")
    return render(request, "portal/confirm.html", {
        "title": "Revoke access", "question": f"Revoke the access of {app.client.name} to {merchant.name}?",
        "details": "Every token your team gave it stops working at once. It can ask again; someone would have to "
                   "allow it again.",
        "button": "Revoke access", "danger": True, "back": "portal:connected_apps"})
