"""Webhooks: endpoints (create, edit, enable / disable, delete), the signing secret shown once on creation and
on rotation, test events, and each endpoint's delivery log with every attempt and redelivery.

Every write is a merchants service (the same as /v1/webhook_endpoints): the portal checks the form and the
member's capability (`manage_webhooks`), the service checks the URL and the rules."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.audit import audit_record
from core.errors import ApplicationError
from merchants import selectors
from merchants import services as merchant_services
from merchants.constants import DeliveryStatus, WebhookEndpointStatus

from ..access import portal_view
from ..data_forms import WebhookEndpointForm
from .listing import keyset_page, not_found


def _mine(request) -> dict:
    return {"merchant_id": request.portal.merchant.pk, "livemode": request.portal.livemode}


def _endpoint(request, endpoint_id):
    return selectors.webhook_endpoint_get(**_mine(request), endpoint_id=endpoint_id)


def _audit(request, action: str, object_id: str, **data) -> None:
    audit_record(actor=f"portal:{request.user.get_username()}", action=action, object_type="webhook_endpoint",
                 object_id=object_id, merchant_id=request.portal.merchant.pk, data={"via": "portal", **data})


def _secret_page(request, endpoint, secret: str, *, rotated: bool):
    """The one page that ever shows the secret: rendered in the POST's answer, never stored, never cached."""
    response = render(request, "portal/webhooks/secret.html", {"endpoint": endpoint, "secret": secret,
                                                               "rotated": rotated})
    response["Cache-Control"] = "no-store"
    return response


def _apply_service_error(form, exc: ApplicationError) -> None:
    field = {"url": "url", "enabled_events": "events", "description": "description"}.get(exc.param or "")
    form.add_error(field, exc.message)


@portal_view("view")
def endpoint_list(request):
    endpoints = selectors.webhook_endpoints_for_merchant(**_mine(request)).order_by("-pk")
    return render(request, "portal/webhooks/list.html", {"endpoints": endpoints})


@require_http_methods(["GET", "POST"])
@portal_view("manage_webhooks")
def endpoint_create(request):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = merchant_services.webhook_endpoint_create(
                **_mine(request), url=form.cleaned_data["url"], enabled_events=form.cleaned_data["enabled_events"],
                description=form.cleaned_data["description"])
        except ApplicationError as exc:
            _apply_service_error(form, exc)
        else:
            _audit(request, "webhook_endpoint.create", endpoint.pk, url=endpoint.url)
            return _secret_page(request, endpoint, secret, rotated=False)
    return render(request, "portal/webhooks/form.html", {"form": form, "endpoint": None})


@require_http_methods(["GET", "POST"])
@portal_view("manage_webhooks")
def endpoint_edit(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    if endpoint is None:
        return not_found(request, "No such webhook endpoint in this mode.")
    form = WebhookEndpointForm(request.POST or None, initial=WebhookEndpointForm.initial_for(endpoint))
    if request.method == "POST" and form.is_valid():
        try:
            merchant_services.webhook_endpoint_update(
                **_mine(request), endpoint_id=endpoint.pk, url=form.cleaned_data["url"],
                enabled_events=form.cleaned_data["enabled_events"], description=form.cleaned_data["description"])
        except ApplicationError as exc:
            _apply_service_error(form, exc)
        else:
            _audit(request, "webhook_endpoint.update", endpoint.pk)
            messages.success(request, "Endpoint saved.")
            return redirect("portal:webhook_detail", endpoint.pk)
    return render(request, "portal/webhooks/form.html", {"form": form, "endpoint": endpoint})


@require_POST
@portal_view("manage_webhooks")
def endpoint_set_status(request, endpoint_id):
    status = request.POST.get("status")
    if status not in WebhookEndpointStatus.values:
        messages.error(request, "Choose enabled or disabled.")
        return redirect("portal:webhook_detail", endpoint_id)
    try:
        merchant_services.webhook_endpoint_update(**_mine(request), endpoint_id=endpoint_id, status=status)
    except ApplicationError as exc:
        if exc.status == 404:
            return not_found(request, "No such webhook endpoint in this mode.")
        messages.error(request, exc.message)
    else:
        _audit(request, f"webhook_endpoint.{'enable' if status == WebhookEndpointStatus.ENABLED else 'disable'}",
               endpoint_id)
        messages.success(request, "Endpoint enabled. Events from now on are sent to it." if
                         status == WebhookEndpointStatus.ENABLED else
                         "Endpoint disabled: nothing is sent to it, and pending deliveries were canceled.")
    return redirect("portal:webhook_detail", endpoint_id)


@require_http_methods(["GET", "POST"])
@portal_view("manage_webhooks")
def endpoint_delete(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    if endpoint is None:
        return not_found(request, "No such webhook endpoint in this mode.")
    if request.method == "POST":
        merchant_services.webhook_endpoint_delete(**_mine(request), endpoint_id=endpoint.pk)
        _audit(request, "webhook_endpoint.delete", endpoint.pk, url=endpoint.url)
        messages.success(request, f"Endpoint {endpoint.url} deleted. Its events stay listed on your payments.")
        return redirect("portal:webhooks")
    return render(request, "portal/webhooks/confirm.html", {
        "endpoint": endpoint, "action": "delete", "title": "Delete this endpoint?",
        "text": "Nothing more is sent to it, and its delivery log is deleted with it. This cannot be undone.",
        "button": "Delete the endpoint", "danger": True})


@require_http_methods(["GET", "POST"])
@portal_view("manage_webhooks")
def endpoint_rotate_secret(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    if endpoint is None:
        return not_found(request, "No such webhook endpoint in this mode.")
    if request.method == "POST":
        endpoint, secret = merchant_services.webhook_endpoint_rotate_secret(**_mine(request), endpoint_id=endpoint.pk)
        _audit(request, "webhook_endpoint.rotate_secret", endpoint.pk)
        return _secret_page(request, endpoint, secret, rotated=True)
    return render(request, "portal/webhooks/confirm.html", {
        "endpoint": endpoint, "action": "rotate", "title": "Rotate the signing secret?",
        "text": "A new secret is made and shown once. For 24 hours every delivery is signed with both the old "
                "and the new secret, so you can switch your server over without missing any.",
        "button": "Rotate the secret", "danger": False})


@require_POST
@portal_view("manage_webhooks")
def endpoint_send_test(request, endpoint_id):
    try:
        event = merchant_services.webhook_endpoint_send_test(**_mine(request), endpoint_id=endpoint_id)
    except ApplicationError as exc:
        if exc.status == 404:
            return not_found(request, "No such webhook endpoint in this mode.")
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Test event {event.pk} queued. Its delivery appears below.")
    return redirect("portal:webhook_detail", endpoint_id)


@require_POST
@portal_view("manage_webhooks")
def delivery_redeliver(request, endpoint_id):
    event_id = request.POST.get("event", "")[:64]
    try:
        merchant_services.event_redeliver(**_mine(request), event_id=event_id, endpoint_id=endpoint_id)
    except ApplicationError as exc:
        if exc.status == 404:
            return not_found(request, "No such event or webhook endpoint in this mode.")
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Event {event_id} queued again, with a fresh retry schedule.")
    return redirect(reverse("portal:webhook_detail", args=[endpoint_id]) + "#deliveries")


@portal_view("view")
def endpoint_detail(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    if endpoint is None:
        return not_found(request, "No such webhook endpoint in this mode.")
    status = request.GET.get("status") or None
    if status not in DeliveryStatus.values:
        status = None
    deliveries = selectors.webhook_deliveries_for_endpoint(endpoint_id=endpoint.pk, status=status)
    page = keyset_page(request, deliveries, prefix="evt", key="event_id")
    return render(request, "portal/webhooks/detail.html", {
        "endpoint": endpoint, "page": page, "statuses": DeliveryStatus.choices, "status": status or "",
        "all_events": "*" in endpoint.enabled_events})
