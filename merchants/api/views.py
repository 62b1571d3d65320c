from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

from core.api import (
    IDEMPOTENCY_HEADER,
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
    parse_query,
    parse_timestamp,
)
from core.errors import NotFound
from core.idempotency import complete_key

from .. import selectors, services
from ..representations import EventOutputSerializer
from .serializers import (
    EventListParamsSerializer,
    EventListSerializer,
    EventRedeliverInputSerializer,
    EventRedeliverOutputSerializer,
    MerchantOutputSerializer,
    WebhookEndpointCreateInputSerializer,
    WebhookEndpointDeletedSerializer,
    WebhookEndpointListSerializer,
    WebhookEndpointOutputSerializer,
    WebhookEndpointReplayInputSerializer,
    WebhookEndpointReplayOutputSerializer,
    WebhookEndpointUpdateInputSerializer,
    WebhookEndpointWithSecretSerializer,
)


class MerchantView(BaseEndpoint):
    # Any valid token may read which merchant it acts for.
    required_scopes = {"GET": []}

    @endpoint_schema(
        operation_id="merchant_retrieve",
        summary="The merchant this token acts for",
        description="Returns the caller's merchant, the token's mode (`livemode`) and its granted scopes.",
        responses={200: OpenApiResponse(MerchantOutputSerializer)},
        errors=(),
        tags=["Merchant"],
    )
    def get(self, request):
        return Response(MerchantOutputSerializer(self.ctx.merchant, context={"ctx": self.ctx}).data)


# --- Events ------------------------------------------------------------------------------------------

EVENT_TAGS = ["Events"]
WEBHOOK_TAGS = ["Webhook endpoints"]


class EventListView(BaseEndpoint):
    required_scopes = {"GET": ["events:read"]}

    @endpoint_schema(
        operation_id="events_list",
        summary="List events",
        description="Newest first; kept for at least 30 days. Filter by `type`, by the object's id (`object`) "
                    "and by creation time. Order the events of one object by their `sequence`.",
        responses={200: OpenApiResponse(EventListSerializer)},
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("type", str, description="Only events of this type, e.g. payment.succeeded"),
            OpenApiParameter("object", str, description="Only events of this object, e.g. pay_..."),
            OpenApiParameter("created[gte]", str, description="Created at or after (unix or ISO 8601)"),
            OpenApiParameter("created[lte]", str, description="Created at or before (unix or ISO 8601)"),
        ],
        tags=EVENT_TAGS,
    )
    def get(self, request):
        filters = parse_query(EventListParamsSerializer, request)
        gte, lte = request.query_params.get("created[gte]"), request.query_params.get("created[lte]")
        qs = selectors.events_for_merchant(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, type=filters.get("type"),
            object_id=filters.get("object"),
            created_gte=parse_timestamp(gte, "created[gte]") if gte else None,
            created_lte=parse_timestamp(lte, "created[lte]") if lte else None,
        )
        return self.list_page(qs, EventOutputSerializer, prefix="evt")


class EventDetailView(BaseEndpoint):
    required_scopes = {"GET": ["events:read"]}

    @endpoint_schema(
        operation_id="events_retrieve",
        summary="Retrieve an event",
        description="The same JSON as the body of the webhook that delivered it.",
        responses={200: OpenApiResponse(EventOutputSerializer)},
        errors=(404,),
        tags=EVENT_TAGS,
    )
    def get(self, request, event_id: str):
        event = selectors.event_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, event_id=event_id)
        if event is None:
            raise NotFound("No such event.", param="id")
        return Response(EventOutputSerializer(event).data)


class EventRedeliverView(BaseEndpoint):
    required_scopes = {"POST": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="events_redeliver",
        summary="Redeliver an event",
        description="Queues the event again, with the same `webhook-id`, to one endpoint (`webhook_endpoint`) or "
                    "to every enabled endpoint that subscribes to it or received it before. A fresh retry "
                    "schedule starts.",
        request=EventRedeliverInputSerializer,
        responses={200: OpenApiResponse(EventRedeliverOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=EVENT_TAGS,
    )
    def post(self, request, event_id: str):
        data = EventRedeliverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event, endpoints = services.event_redeliver(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, event_id=event_id,
            endpoint_id=data.validated_data.get("webhook_endpoint"))
        return Response({"object": "event_redelivery", "event": event.id,
                         "webhook_endpoints": [e.id for e in endpoints]})


# --- Webhook endpoints --------------------------------------------------------------------------------


class _ReturnsSecretMixin:
    """The idempotency store keeps a response for replays: never with the secret in clear."""

    def finalize_response(self, request, response, *args, **kwargs):
        record = self._idempotency_record
        if record is not None and isinstance(response.data, dict) and response.data.get("secret"):
            self._idempotency_record = None
            complete_key(record, status=response.status_code, body={**response.data, "secret": None})
        return super().finalize_response(request, response, *args, **kwargs)


def _with_secret(endpoint, secret: str) -> dict:
    return {**WebhookEndpointOutputSerializer(endpoint).data, "secret": secret}


class WebhookEndpointListCreateView(_ReturnsSecretMixin, BaseEndpoint):
    required_scopes = {"GET": ["webhooks:read"], "POST": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="webhook_endpoints_create",
        summary="Create a webhook endpoint",
        description="Live-mode URLs must be HTTPS and resolve to public addresses only. The response holds the "
                    "signing `secret` (`whsec_...`): it is shown this once.",
        request=WebhookEndpointCreateInputSerializer,
        responses={201: OpenApiResponse(WebhookEndpointWithSecretSerializer)},
        errors=(400, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=WEBHOOK_TAGS,
    )
    def post(self, request):
        data = WebhookEndpointCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, **data.validated_data)
        return Response(_with_secret(endpoint, secret), status=201)

    @endpoint_schema(
        operation_id="webhook_endpoints_list",
        summary="List webhook endpoints",
        responses={200: OpenApiResponse(WebhookEndpointListSerializer)},
        parameters=PAGINATION_PARAMETERS,
        tags=WEBHOOK_TAGS,
    )
    def get(self, request):
        qs = selectors.webhook_endpoints_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        return self.list_page(qs, WebhookEndpointOutputSerializer, prefix="we")


class WebhookEndpointDetailView(BaseEndpoint):
    required_scopes = {"GET": ["webhooks:read"], "PATCH": ["webhooks:write"], "DELETE": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="webhook_endpoints_retrieve",
        summary="Retrieve a webhook endpoint",
        responses={200: OpenApiResponse(WebhookEndpointOutputSerializer)},
        errors=(404,),
        tags=WEBHOOK_TAGS,
    )
    def get(self, request, endpoint_id: str):
        endpoint = selectors.webhook_endpoint_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                                  endpoint_id=endpoint_id)
        if endpoint is None:
            raise NotFound("No such webhook endpoint.", param="id")
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @endpoint_schema(
        operation_id="webhook_endpoints_update",
        summary="Update a webhook endpoint",
        description="Change the URL, the events, the description, or `status` (enabled / disabled). Disabling "
                    "cancels pending deliveries; after enabling, replay what you missed.",
        request=WebhookEndpointUpdateInputSerializer,
        responses={200: OpenApiResponse(WebhookEndpointOutputSerializer)},
        errors=(400, 404),
        tags=WEBHOOK_TAGS,
    )
    def patch(self, request, endpoint_id: str):
        data = WebhookEndpointUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                                    endpoint_id=endpoint_id, **data.validated_data)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @endpoint_schema(
        operation_id="webhook_endpoints_delete",
        summary="Delete a webhook endpoint",
        description="Deletes the endpoint and its pending deliveries. Its events stay.",
        responses={200: OpenApiResponse(WebhookEndpointDeletedSerializer)},
        errors=(404,),
        tags=WEBHOOK_TAGS,
    )
    def delete(self, request, endpoint_id: str):
        services.webhook_endpoint_delete(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                         endpoint_id=endpoint_id)
        return Response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


class WebhookEndpointRotateSecretView(_ReturnsSecretMixin, BaseEndpoint):
    required_scopes = {"POST": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="webhook_endpoints_rotate_secret",
        summary="Rotate a webhook endpoint's secret",
        description="Returns a new signing secret (shown once). For 24 hours deliveries carry two signatures, "
                    "one with the old secret and one with the new, so you can switch without losing any.",
        request=None,
        responses={200: OpenApiResponse(WebhookEndpointWithSecretSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=WEBHOOK_TAGS,
    )
    def post(self, request, endpoint_id: str):
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, endpoint_id=endpoint_id)
        return Response(_with_secret(endpoint, secret))


class WebhookEndpointTestView(BaseEndpoint):
    required_scopes = {"POST": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="webhook_endpoints_test",
        summary="Send a test event",
        description="Sends a `webhook_endpoint.test` event to this endpoint only, signed like every delivery.",
        request=None,
        responses={200: OpenApiResponse(EventOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=WEBHOOK_TAGS,
    )
    def post(self, request, endpoint_id: str):
        event = services.webhook_endpoint_send_test(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                                    endpoint_id=endpoint_id)
        return Response(EventOutputSerializer(event).data)


class WebhookEndpointReplayView(BaseEndpoint):
    required_scopes = {"POST": ["webhooks:write"]}

    @endpoint_schema(
        operation_id="webhook_endpoints_replay",
        summary="Replay a time range of events to this endpoint",
        description="Queues again every event created between `created_gte` and `created_lte` (inclusive) that "
                    "the endpoint subscribes to, each with its own `webhook-id`. At most 10,000 events.",
        request=WebhookEndpointReplayInputSerializer,
        responses={200: OpenApiResponse(WebhookEndpointReplayOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=WEBHOOK_TAGS,
    )
    def post(self, request, endpoint_id: str):
        data = WebhookEndpointReplayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = services.webhook_endpoint_replay(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, endpoint_id=endpoint_id,
            created_gte=parse_timestamp(data.validated_data["created_gte"], "created_gte"),
            created_lte=parse_timestamp(data.validated_data["created_lte"], "created_lte"))
        return Response({"object": "webhook_replay", "webhook_endpoint": endpoint_id, "events": count})
