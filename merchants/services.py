"""Every write to merchants, their members, their API clients, events (the outbox) and webhooks."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, RefreshToken

from core.errors import NotFound, StateError, ValidationError
from core.money import CurrencyError, normalize_currency
from core.scopes import MERCHANT_SCOPES

from . import webhooks
from .constants import (
    EVENT_TYPES,
    MERCHANT_TRANSITIONS,
    WEBHOOK_DISABLE_AFTER_SECONDS,
    WEBHOOK_RETRY_DELAYS_SECONDS,
    WEBHOOK_RETRY_JITTER,
    WEBHOOK_SECRET_OVERLAP_SECONDS,
    WEBHOOK_TEST_EVENT,
    ClientKind,
    DeliveryStatus,
    MemberRole,
    MerchantStatus,
    WebhookEndpointStatus,
)
from .models import (
    ApiClient,
    Event,
    EventSequence,
    Merchant,
    MerchantMember,
    MerchantNotice,
    MerchantStatusEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .representations import event_representation

logger = logging.getLogger(__name__)


def merchant_create(*, name: str, country: str = "DE", default_currency: str = "EUR", support_email: str = "",
                    legal_name: str = "") -> Merchant:
    if not name.strip():
        raise ValidationError("A merchant needs a name.", param="name")
    try:
        currency = normalize_currency(default_currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), param="default_currency")
    if len(country) != 2 or not country.isalpha():
        raise ValidationError("Country must be an ISO 3166-1 alpha-2 code.", param="country")
    return Merchant.objects.create(
        name=name.strip(),
        legal_name=legal_name,
        country=country.upper(),
        default_currency=currency,
        support_email=support_email,
    )


@transaction.atomic
def merchant_set_status(*, merchant_id: str, to_status: str, actor: str, note: str = "") -> Merchant:
    """The one place a merchant's status changes: lock, check the table, record the event."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
    if to_status not in MERCHANT_TRANSITIONS.get(merchant.status, set()):
        raise StateError(f"This merchant is {merchant.status}; it cannot become {to_status}.",
                         code="invalid_transition")
    MerchantStatusEvent.objects.create(
        merchant=merchant, from_status=merchant.status, to_status=to_status, actor=actor, note=note
    )
    merchant.status = to_status
    merchant.save(update_fields=["status", "updated"])
    return merchant


def member_add(*, merchant: Merchant, user, role: str = MemberRole.OWNER, email_verified: bool = True,
               ) -> MerchantMember:
    """Make `user` a member of `merchant`. A person works for one merchant only.

    `email_verified=False` for a self-service sign-up: the person must follow the link sent to them
    (merchants.accounts.email_verify) before the portal lets them invite people or go live.
    """
    if role not in MemberRole.values:
        raise ValidationError(f"Unknown role {role}.", param="role")
    if MerchantMember.objects.filter(user=user).exists():
        raise StateError("This person already works for a merchant; a log-in belongs to one merchant only.",
                         code="already_member")
    return MerchantMember.objects.create(merchant=merchant, user=user, role=role,
                                         email_verified_at=timezone.now() if email_verified else None)


def _check_scopes(scopes) -> str:
    unknown = sorted(set(scopes) - set(MERCHANT_SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scope(s): {' '.join(unknown)}.", param="scopes")
    return " ".join(s for s in MERCHANT_SCOPES if s in set(scopes))


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # urlsplit().hostname: lower case, no brackets
MAX_REDIRECT_URIS = 10


def check_redirect_uris(redirect_uris: str) -> str:
    """The exact redirect URIs of a third-party app, space or newline separated, checked one by one.

    Absolute `https://` URLs with a host, no wildcard, no fragment, no user info. Plain `http://` only
    for a loopback host (127.0.0.1, localhost, [::1]) and only where OAUTH2_PROVIDER allows the `http`
    scheme (development; never in production). The authorization server compares them exactly.
    """
    uris = list(dict.fromkeys(redirect_uris.split()))
    if not uris:
        raise ValidationError("A third-party app needs at least one exact redirect URI.", param="redirect_uris")
    if len(uris) > MAX_REDIRECT_URIS:
        raise ValidationError(f"At most {MAX_REDIRECT_URIS} redirect URIs.", param="redirect_uris")
    http_allowed = "http" in settings.OAUTH2_PROVIDER.get("ALLOWED_REDIRECT_URI_SCHEMES", ["https"])
    for uri in uris:
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError:
            raise ValidationError(f"Redirect URI {uri} is not a valid URL.", param="redirect_uris",
                                  code="redirect_uri_invalid")
        problem = None
        if len(uri) > 2000:
            problem = "is too long"
        elif "*" in uri:
            problem = "has a wildcard; redirect URIs are compared exactly"
        elif parts.scheme not in ("https", "http") or not parts.hostname:
            problem = "is not an absolute https:// URL"
        elif parts.fragment or "#" in uri:
            problem = "has a #fragment, which OAuth 2 forbids"
        elif parts.username is not None or parts.password is not None:
            problem = "has a user name or password in it"
        elif parts.scheme == "http" and not (http_allowed and parts.hostname in LOOPBACK_HOSTS):
            problem = ("must use https:// (plain http:// is only for 127.0.0.1 or localhost, in development)"
                       if http_allowed else "must use https://")
        if problem:
            raise ValidationError(f"Redirect URI {uri} {problem}.", param="redirect_uris", code="redirect_uri_invalid")
    return " ".join(uris)


@transaction.atomic
def api_client_create(*, merchant: Merchant, name: str, livemode: bool = False, scopes=MERCHANT_SCOPES,
                      kind: str = ClientKind.SERVER, redirect_uris: str = "", client_id: str | None = None,
                      client_secret: str | None = None) -> tuple[ApiClient, str]:
    """A new API client. Returns the client and its secret in clear - shown once, stored hashed."""
    if livemode and merchant.status != MerchantStatus.ACTIVE:
        raise StateError("Live-mode clients need an approved (active) merchant.", code="merchant_not_active")
    if kind == ClientKind.CONNECT:
        redirect_uris = check_redirect_uris(redirect_uris)
        grant = ApiClient.GRANT_AUTHORIZATION_CODE
    elif kind == ClientKind.SERVER:
        grant = ApiClient.GRANT_CLIENT_CREDENTIALS
    else:
        raise ValidationError(f"Unknown client kind {kind}.", param="kind")
    secret = client_secret or generate_client_secret()
    client = ApiClient(
        merchant=merchant,
        name=name,
        kind=kind,
        livemode=livemode,
        allowed_scopes=_check_scopes(scopes),
        client_type=ApiClient.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=redirect_uris,
        client_secret=secret,
        hash_client_secret=True,
    )
    if client_id:
        client.client_id = client_id
    client.full_clean(exclude=["user", "client_secret"])
    client.save()
    return client, secret


@transaction.atomic
def api_client_set_secret(*, client: ApiClient, secret: str | None = None) -> str:
    """Replace the client's secret (rotation). Existing tokens stay valid until they expire."""
    secret = secret or generate_client_secret()
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is not None:
        raise StateError("This client is revoked; create a new one.", code="client_revoked")
    client.client_secret = secret
    client.save(update_fields=["client_secret", "updated"])
    return secret


@transaction.atomic
def api_client_set_scopes(*, client: ApiClient, scopes) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    client.allowed_scopes = _check_scopes(scopes)
    client.save(update_fields=["allowed_scopes", "updated"])
    return client


@transaction.atomic
def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Revoke a client and every token it holds, at once."""
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at", "updated"])
    RefreshToken.objects.filter(application=client).delete()
    AccessToken.objects.filter(application=client).delete()
    return client


# --- Events (outbox) --------------------------------------------------------------------------------
#
# `event_publish` is the one way any app records that something happened. Call it inside the
# transaction that makes the change (the event and its deliveries commit or roll back with it);
# the delivery tasks are enqueued only after the commit, and the beat sweep re-enqueues anything
# whose nudge was lost (Redis down, worker killed), so the database is the source of truth.


def _next_sequence(object_id: str) -> int:
    """Allocate the next sequence number of `object_id`'s events (call inside the change's transaction).

    One statement: insert the counter row at 1, or add one to it. The upsert locks the row until the
    transaction ends, so concurrent publishers for one object are serialized and no number is given
    twice (PostgreSQL and SQLite 3.35+ alike).
    """
    table = connection.ops.quote_name(EventSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (object_id, last) VALUES (%s, 1) "  # noqa: S608 (the table name is ours)
            f"ON CONFLICT (object_id) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [object_id],
        )
        return cursor.fetchone()[0]


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _enqueue_deliveries(delivery_ids: list[int], *, countdown: int | None = None) -> None:
    """Send each delivery's task to the broker (a nudge only: the sweep finds anything not sent)."""
    from .tasks import deliver_webhook  # tasks import services: imported late

    for delivery_id in delivery_ids:
        try:
            deliver_webhook.apply_async((delivery_id,), countdown=countdown)
        except Exception:  # broker down: the outbox keeps the delivery, the sweep sends it later
            logger.warning("Could not enqueue webhook delivery %s; the sweep will retry it", delivery_id)
            return


def _enqueue_on_commit(delivery_ids: list[int], *, countdown: int | None = None) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue_deliveries(delivery_ids, countdown=countdown), robust=True)


def _event_create(*, merchant_id: str, livemode: bool, type: str, object_type: str, object_id: str, data: dict,
                  endpoints=None) -> Event:
    with transaction.atomic(savepoint=False):
        event = Event.objects.create(merchant_id=merchant_id, livemode=livemode, type=type, object_type=object_type,
                                     object_id=object_id, sequence=_next_sequence(object_id), data=_jsonable(data))
        if endpoints is None:
            endpoints = [e for e in WebhookEndpoint.objects.filter(merchant_id=merchant_id, livemode=livemode,
                                                                  status=WebhookEndpointStatus.ENABLED)
                         if e.wants(type)]
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(event=event, endpoint=e, next_attempt_at=event.created) for e in endpoints]
        )
        _enqueue_on_commit([d.pk for d in deliveries])
    return event


def event_publish(*, merchant_id: str, livemode: bool, type: str, object_type: str, object_id: str,
                  data: dict) -> Event:
    """Record an event (`evt_...`) and queue its delivery to every enabled endpoint that wants `type`.

    Call it in the same transaction as the change it describes, with `data` the object exactly as the
    API returns it (its representation), while the object's row is locked. `sequence` is allocated per
    `object_id`. Event types are `<object>.<what happened>`; add new ones to merchants.constants.EVENT_TYPES
    so endpoints can subscribe to them.
    """
    return _event_create(merchant_id=merchant_id, livemode=livemode, type=type, object_type=object_type,
                         object_id=object_id, data=data)


def events_publish(*, events: list[dict]) -> list[Event]:
    """`event_publish` for many events at once, in order, with the same rules: each dict holds its keyword
    arguments. A fixed number of statements whatever their number (one sequence upsert, one INSERT of the
    events, one SELECT of the endpoints, one INSERT of the deliveries): a settlement run publishes two
    events per merchant."""
    if not events:
        return []
    per_object: dict[str, int] = {}
    for e in events:
        per_object[e["object_id"]] = per_object.get(e["object_id"], 0) + 1
    table = connection.ops.quote_name(EventSequence._meta.db_table)
    with connection.cursor() as cursor:  # one row per object: add its count of new events
        cursor.execute(
            f"INSERT INTO {table} (object_id, last) VALUES {', '.join(['(%s, %s)'] * len(per_object))} "  # noqa: S608
            f"ON CONFLICT (object_id) DO UPDATE SET last = {table}.last + excluded.last RETURNING object_id, last",
            [v for item in per_object.items() for v in item])
        next_sequence = {object_id: last - per_object[object_id] + 1 for object_id, last in cursor.fetchall()}
    rows = []
    for e in events:
        sequence = next_sequence[e["object_id"]]
        next_sequence[e["object_id"]] += 1
        rows.append(Event(merchant_id=e["merchant_id"], livemode=e["livemode"], type=e["type"],
                          object_type=e["object_type"], object_id=e["object_id"], sequence=sequence,
                          data=_jsonable(e["data"])))
    with transaction.atomic(savepoint=False):
        Event.objects.bulk_create(rows)
        endpoints = WebhookEndpoint.objects.filter(merchant_id__in={e.merchant_id for e in rows},
                                                   status=WebhookEndpointStatus.ENABLED).order_by("pk")
        by_merchant: dict[tuple, list] = {}
        for endpoint in endpoints:
            by_merchant.setdefault((endpoint.merchant_id, endpoint.livemode), []).append(endpoint)
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=event.created)
             for event in rows for endpoint in by_merchant.get((event.merchant_id, event.livemode), ())
             if endpoint.wants(event.type)])
        _enqueue_on_commit([d.pk for d in deliveries])
    return rows


def _get_event(*, merchant_id: str, livemode: bool, event_id: str) -> Event:
    event = Event.objects.filter(pk=event_id, merchant_id=merchant_id, livemode=livemode).first()
    if event is None:
        raise NotFound("No such event.", param="id")
    return event


def _deliveries_reset(*, endpoint: WebhookEndpoint, events: list[Event], now) -> list[int]:
    """Make each event pending for `endpoint` again (a fresh schedule), creating missing deliveries."""
    existing = set(WebhookDelivery.objects.filter(endpoint=endpoint, event__in=events).values_list("event_id",
                                                                                                     flat=True))
    WebhookDelivery.objects.filter(endpoint=endpoint, event_id__in=existing).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, delivered_at=None, updated=now)
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=e, endpoint=endpoint, next_attempt_at=now) for e in events if e.pk not in existing],
        ignore_conflicts=True,
    )
    return list(WebhookDelivery.objects.filter(endpoint=endpoint, event__in=events).values_list("pk", flat=True))


@transaction.atomic
def event_redeliver(*, merchant_id: str, livemode: bool, event_id: str, endpoint_id: str | None = None,
                    ) -> tuple[Event, list[WebhookEndpoint]]:
    """Send an event again (same webhook-id) to one endpoint, or to every enabled endpoint that wants it
    or received it before. Returns the event and the endpoints it is queued for."""
    event = _get_event(merchant_id=merchant_id, livemode=livemode, event_id=event_id)
    endpoints = WebhookEndpoint.objects.select_for_update().filter(merchant_id=merchant_id, livemode=livemode)
    if endpoint_id is not None:
        endpoint = endpoints.filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound("No such webhook endpoint.", param="webhook_endpoint")
        if endpoint.status != WebhookEndpointStatus.ENABLED:
            raise StateError("This webhook endpoint is disabled; enable it first.", code="webhook_endpoint_disabled",
                             param="webhook_endpoint")
        targets = [endpoint]
    else:
        delivered_to = set(event.deliveries.values_list("endpoint_id", flat=True))
        targets = [e for e in endpoints.filter(status=WebhookEndpointStatus.ENABLED).order_by("pk")
                   if e.wants(event.type) or e.pk in delivered_to]
    now = timezone.now()
    ids = []
    for endpoint in targets:
        ids += _deliveries_reset(endpoint=endpoint, events=[event], now=now)
    _enqueue_on_commit(ids)
    return event, targets


REPLAY_MAX_EVENTS = 10_000
NUDGE_MAX = 500  # deliveries enqueued at once by a replay; the sweep sends the rest


@transaction.atomic
def webhook_endpoint_replay(*, merchant_id: str, livemode: bool, endpoint_id: str, created_gte, created_lte,
                            ) -> int:
    """Send every event created in [created_gte, created_lte] that the endpoint subscribes to again.

    Each keeps its webhook-id (the event id). Returns how many events are queued.
    """
    endpoint = _get_endpoint(merchant_id=merchant_id, livemode=livemode, endpoint_id=endpoint_id, lock=True)
    if endpoint.status != WebhookEndpointStatus.ENABLED:
        raise StateError("This webhook endpoint is disabled; enable it first.", code="webhook_endpoint_disabled")
    if created_gte > created_lte:
        raise ValidationError("created_gte must not be after created_lte.", param="created_gte",
                              code="parameter_invalid")
    events = Event.objects.filter(merchant_id=merchant_id, livemode=livemode, created__gte=created_gte,
                                  created__lte=created_lte).exclude(type=WEBHOOK_TEST_EVENT)
    if "*" not in endpoint.enabled_events:
        events = events.filter(type__in=endpoint.enabled_events)
    events = list(events.order_by("created", "pk")[: REPLAY_MAX_EVENTS + 1])
    if len(events) > REPLAY_MAX_EVENTS:
        raise ValidationError(f"More than {REPLAY_MAX_EVENTS} events in this range; replay a shorter one.",
                              param="created_lte", code="replay_too_large")
    ids = _deliveries_reset(endpoint=endpoint, events=events, now=timezone.now()) if events else []
    _enqueue_on_commit(ids[:NUDGE_MAX])
    return len(events)


# --- Webhook endpoints -------------------------------------------------------------------------------

MAX_ENDPOINTS_PER_MODE = 16


def _check_url(url: str, *, livemode: bool) -> str:
    url = (url or "").strip()
    if not url or len(url) > 2048:
        raise ValidationError("url must be an absolute URL of at most 2048 characters.", param="url",
                              code="url_invalid")
    try:
        webhooks.check_url(url, livemode=livemode)
    except webhooks.UnsafeURL as exc:
        raise ValidationError(str(exc), param="url", code="url_not_allowed")
    return url


def _check_enabled_events(enabled_events) -> list[str]:
    if not isinstance(enabled_events, list | tuple) or not enabled_events:
        raise ValidationError('enabled_events must be a non-empty list of event types, or ["*"].',
                              param="enabled_events", code="parameter_invalid")
    unknown = sorted({t for t in enabled_events if t != "*" and t not in EVENT_TYPES})
    if unknown:
        raise ValidationError(f"Unknown event type(s): {', '.join(unknown)}.", param="enabled_events",
                              code="parameter_invalid")
    return ["*"] if "*" in enabled_events else sorted(set(enabled_events))


def _get_endpoint(*, merchant_id: str, livemode: bool, endpoint_id: str, lock: bool = False) -> WebhookEndpoint:
    qs = WebhookEndpoint.objects.select_for_update() if lock else WebhookEndpoint.objects
    endpoint = qs.filter(pk=endpoint_id, merchant_id=merchant_id, livemode=livemode).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", param="id")
    return endpoint


@transaction.atomic
def webhook_endpoint_create(*, merchant_id: str, livemode: bool, url: str, enabled_events,
                            description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new endpoint. Returns it and its signing secret in clear: shown once, stored encrypted."""
    url = _check_url(url, livemode=livemode)
    enabled_events = _check_enabled_events(enabled_events)
    Merchant.objects.select_for_update().get(pk=merchant_id)  # serializes the count below
    if WebhookEndpoint.objects.filter(merchant_id=merchant_id, livemode=livemode).count() >= MAX_ENDPOINTS_PER_MODE:
        raise StateError(f"At most {MAX_ENDPOINTS_PER_MODE} webhook endpoints per mode.",
                         code="webhook_endpoint_limit")
    endpoint = WebhookEndpoint(merchant_id=merchant_id, livemode=livemode, url=url, enabled_events=enabled_events,
                               description=description)
    secret = webhooks.new_secret()
    endpoint.secret_encrypted = webhooks.encrypt_secret(secret, endpoint_id=endpoint.id)
    endpoint.save(force_insert=True)
    return endpoint, secret


def _endpoint_disable(endpoint: WebhookEndpoint, *, reason: str, notify: bool) -> None:
    """Disable a (locked) endpoint; its pending deliveries are canceled (replay sends them later)."""
    endpoint.status = WebhookEndpointStatus.DISABLED
    endpoint.disabled_reason = reason[:255]
    endpoint.save(update_fields=["status", "disabled_reason", "updated"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELED, next_attempt_at=None, updated=timezone.now())
    if notify:
        _notify_endpoint_disabled(endpoint, reason=reason)


def _notify_endpoint_disabled(endpoint: WebhookEndpoint, *, reason: str) -> None:
    mode = "live" if endpoint.livemode else "test"
    message = (f"Your {mode}-mode webhook endpoint {endpoint.id} ({endpoint.url}) was disabled: {reason} "
               "Fix the endpoint, enable it again, then replay the events you missed.")
    MerchantNotice.objects.create(merchant_id=endpoint.merchant_id, kind="webhook_endpoint.disabled",
                                  message=message, object_id=endpoint.id)
    merchant = Merchant.objects.get(pk=endpoint.merchant_id)
    recipients = {merchant.support_email} | set(
        MerchantMember.objects.filter(merchant=merchant, role__in=[MemberRole.OWNER, MemberRole.DEVELOPER])
        .exclude(user__email="").values_list("user__email", flat=True))
    recipients.discard("")
    if recipients:
        subject = f"Webhook endpoint disabled: {endpoint.url}"
        transaction.on_commit(
            lambda: send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, sorted(recipients), fail_silently=True),
            robust=True,
        )


@transaction.atomic
def webhook_endpoint_update(*, merchant_id: str, livemode: bool, endpoint_id: str, url: str | None = None,
                            enabled_events=None, description: str | None = None,
                            status: str | None = None) -> WebhookEndpoint:
    endpoint = _get_endpoint(merchant_id=merchant_id, livemode=livemode, endpoint_id=endpoint_id, lock=True)
    fields = []
    if url is not None:
        endpoint.url = _check_url(url, livemode=livemode)
        fields.append("url")
    if enabled_events is not None:
        endpoint.enabled_events = _check_enabled_events(enabled_events)
        fields.append("enabled_events")
    if description is not None:
        endpoint.description = description
        fields.append("description")
    if fields:
        endpoint.save(update_fields=[*fields, "updated"])
    if status is not None and status != endpoint.status:
        if status == WebhookEndpointStatus.DISABLED:
            _endpoint_disable(endpoint, reason="Disabled by the merchant.", notify=False)
        elif status == WebhookEndpointStatus.ENABLED:
            endpoint.status, endpoint.disabled_reason, endpoint.failing_since = status, "", None
            endpoint.save(update_fields=["status", "disabled_reason", "failing_since", "updated"])
        else:
            raise ValidationError("status must be enabled or disabled.", param="status", code="parameter_invalid")
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, merchant_id: str, livemode: bool, endpoint_id: str) -> WebhookEndpoint:
    """Delete an endpoint and its deliveries (the events stay)."""
    endpoint = _get_endpoint(merchant_id=merchant_id, livemode=livemode, endpoint_id=endpoint_id, lock=True)
    WebhookAttempt.objects.filter(delivery__endpoint=endpoint).delete()
    WebhookDelivery.objects.filter(endpoint=endpoint).delete()
    endpoint.delete()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, merchant_id: str, livemode: bool, endpoint_id: str,
                                   ) -> tuple[WebhookEndpoint, str]:
    """A new signing secret; the current one keeps signing too (both signatures sent) for 24 hours.

    Rotating again within those 24 hours drops the oldest secret: at most two sign at any time.
    """
    endpoint = _get_endpoint(merchant_id=merchant_id, livemode=livemode, endpoint_id=endpoint_id, lock=True)
    secret = webhooks.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires = timezone.now() + timedelta(seconds=WEBHOOK_SECRET_OVERLAP_SECONDS)
    endpoint.secret_encrypted = webhooks.encrypt_secret(secret, endpoint_id=endpoint.id)
    endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires",
                                 "updated"])
    return endpoint, secret


def webhook_endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    now = now or timezone.now()
    found = [webhooks.decrypt_secret(endpoint.secret_encrypted, endpoint_id=endpoint.id)]
    expires = endpoint.previous_secret_expires
    if endpoint.previous_secret_encrypted and expires and expires > now:
        found.append(webhooks.decrypt_secret(endpoint.previous_secret_encrypted, endpoint_id=endpoint.id))
    return found


@transaction.atomic
def webhook_endpoint_send_test(*, merchant_id: str, livemode: bool, endpoint_id: str) -> Event:
    """Send a `webhook_endpoint.test` event to this endpoint only (whatever it subscribes to)."""
    endpoint = _get_endpoint(merchant_id=merchant_id, livemode=livemode, endpoint_id=endpoint_id, lock=True)
    if endpoint.status != WebhookEndpointStatus.ENABLED:
        raise StateError("This webhook endpoint is disabled; enable it first.", code="webhook_endpoint_disabled")
    data = {"id": endpoint.id, "object": "webhook_endpoint", "url": endpoint.url, "livemode": endpoint.livemode,
            "message": "A test event: your endpoint receives and verifies webhooks."}
    return _event_create(merchant_id=merchant_id, livemode=livemode, type=WEBHOOK_TEST_EVENT,
                         object_type="webhook_endpoint", object_id=endpoint.id, data=data, endpoints=[endpoint])


# --- Delivery ------------------------------------------------------------------------------------------


def retry_delay(retry_number: int) -> timedelta | None:
    """The delay before retry `retry_number` (1-based) with jitter; None when the schedule is over."""
    if retry_number > len(WEBHOOK_RETRY_DELAYS_SECONDS):
        return None
    base = WEBHOOK_RETRY_DELAYS_SECONDS[retry_number - 1]
    return timedelta(seconds=base * random.uniform(1 - WEBHOOK_RETRY_JITTER, 1 + WEBHOOK_RETRY_JITTER))  # noqa: S311


def event_body(event: Event) -> bytes:
    """The bytes POSTed to the endpoint (and signed): the event exactly as GET /v1/events/{id} shows it."""
    return json.dumps(event_representation(event), separators=(",", ":")).encode()


def webhook_delivery_attempt(*, delivery_id: int, now=None) -> WebhookDelivery | None:
    """One attempt at a delivery, if it is pending and due. Safe to call twice (no-op if not due).

    1. Claim it: lock the row, count the attempt and push next_attempt_at out by the lease, commit.
       A worker that dies from here on leaves the delivery due again once the lease expires: the sweep
       re-enqueues it and it is sent again with the same webhook-id (at least once, never lost).
    2. Check the URL again and POST to the address just checked, with no transaction open.
    3. Record the attempt and the outcome (`_delivery_record`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("event", "endpoint")
                    .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).first())
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if endpoint.status != WebhookEndpointStatus.ENABLED:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.CANCELED, None
            delivery.save(update_fields=["status", "next_attempt_at", "updated"])
            return delivery
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at", "updated"])

    event = delivery.event
    body = event_body(event)
    try:
        target = webhooks.check_url(endpoint.url, livemode=endpoint.livemode)
    except webhooks.UnsafeURL as exc:
        outcome = webhooks.Outcome(status_code=None, latency_ms=0, error=f"refused: {exc}")
    else:
        headers = webhooks.signed_headers(webhook_endpoint_signing_secrets(endpoint, now=now), msg_id=event.id,
                                          timestamp=int(time.time()), body=body)
        outcome = webhooks.post(target, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    return _delivery_record(delivery_id=delivery.pk, attempt_number=delivery.attempts, outcome=outcome, now=now)


def _delivery_record(*, delivery_id: int, attempt_number: int, outcome, now) -> WebhookDelivery:
    """Log the attempt; then delivered, scheduled for a retry, or failed. Runs the endpoint's health rules."""
    countdown = None
    with transaction.atomic():
        endpoint_id = WebhookDelivery.objects.values_list("endpoint_id", flat=True).get(pk=delivery_id)
        # Lock order everywhere: the endpoint, then its deliveries.
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        WebhookAttempt.objects.create(delivery=delivery, created=now, status_code=outcome.status_code,
                                      succeeded=outcome.ok, error=outcome.error[:255], latency_ms=outcome.latency_ms,
                                      response_body=outcome.body_preview[: webhooks.RESPONSE_PREVIEW_BYTES])
        current = delivery.status == DeliveryStatus.PENDING and delivery.attempts == attempt_number
        if outcome.ok:
            if delivery.status == DeliveryStatus.PENDING:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
                delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "updated"])
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated"])
        elif outcome.status_code == 410:
            if current:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
                delivery.save(update_fields=["status", "next_attempt_at", "updated"])
            if endpoint.status == WebhookEndpointStatus.ENABLED:
                _endpoint_disable(endpoint, reason="The endpoint answered 410 Gone.", notify=True)
        elif current:
            delay = retry_delay(attempt_number)
            if delay is None:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            else:
                delivery.next_attempt_at = now + delay
                if delay <= timedelta(minutes=5):
                    countdown = max(1, int(delay.total_seconds()))
            delivery.save(update_fields=["status", "next_attempt_at", "updated"])
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since", "updated"])
            elif (endpoint.status == WebhookEndpointStatus.ENABLED
                  and now - endpoint.failing_since >= timedelta(seconds=WEBHOOK_DISABLE_AFTER_SECONDS)):
                _endpoint_disable(endpoint, reason="No delivery has succeeded for 3 days.", notify=True)
                delivery.refresh_from_db()
        if countdown is not None and delivery.status == DeliveryStatus.PENDING:
            _enqueue_on_commit([delivery.pk], countdown=countdown)
    return delivery


def events_purge(*, now=None, batch: int = 1000) -> int:
    """Delete events older than EVENT_RETENTION_DAYS with their deliveries and attempts, in batches (short
    transactions). An event with a delivery still pending is kept until that delivery ends. Returns how many
    events were deleted. EVENT_RETENTION_DAYS = 0 keeps every event."""
    days = settings.EVENT_RETENTION_DAYS
    if days <= 0:
        return 0
    bound = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(Event.objects.filter(created__lt=bound)
                       .exclude(deliveries__status=DeliveryStatus.PENDING)
                       .order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return deleted
            # Re-checked under the delivery rows' locks: a redelivery may have reset one to pending meanwhile.
            pending = set(WebhookDelivery.objects.select_for_update().filter(event_id__in=ids)
                          .filter(status=DeliveryStatus.PENDING).values_list("event_id", flat=True))
            ids = [i for i in ids if i not in pending]
            WebhookAttempt.objects.filter(delivery__event_id__in=ids).delete()
            WebhookDelivery.objects.filter(event_id__in=ids).delete()
            deleted += Event.objects.filter(pk__in=ids).delete()[0]
        if len(ids) + len(pending) < batch:
            return deleted


def webhook_deliveries_sweep(*, now=None, limit: int = 1000) -> int:
    """Enqueue every pending delivery that has been due for longer than the lease (its nudge was lost,
    its worker died, or its retry time came). Run by Celery beat every WEBHOOK_SWEEP_SECONDS."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    ids = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    _enqueue_deliveries(ids)
    return len(ids)
