"""What every API endpoint shares: the caller's context, scopes, pagination, schema helpers.

An endpoint is a `BaseEndpoint` subclass that names the scopes each method needs in
`required_scopes`; anything not named is denied. Authentication (merchants.oauth) puts an
`ApiContext` in `request.auth`; views read the merchant and mode from it and pass them to
services.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.context import ApiContext
from core.errors import ValidationError
from core.idempotency import IdempotencyMixin
from core.permissions import ClientRateThrottle, HasRequiredScopes, InsufficientScope

__all__ = ["ApiContext", "ClientRateThrottle", "HasRequiredScopes", "InsufficientScope"]


class BaseEndpoint(IdempotencyMixin, APIView):
    """Base of every /v1 endpoint. `required_scopes = {"GET": [...], "POST": [...]}`."""

    required_scopes: dict[str, list[str]] = {}

    @property
    def ctx(self) -> ApiContext:
        return self.request.auth

    def list_page(self, queryset, serializer_class, *, prefix: str):
        """A list response for `queryset`: validated `limit`/`starting_after`/`ending_before`, one keyset
        page newest first, rendered with `serializer_class`."""
        params = parse_query(ListParamsSerializer, self.request)
        rows, has_more = paginate(queryset, params, prefix=prefix)
        return list_response(serializer_class(rows, many=True).data, has_more, self.request.path)


# --- Pagination --------------------------------------------------------------------------------


class ListParamsSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    starting_after = serializers.CharField(required=False, max_length=64)
    ending_before = serializers.CharField(required=False, max_length=64)

    def validate(self, attrs):
        if attrs.get("starting_after") and attrs.get("ending_before"):
            raise serializers.ValidationError("Use starting_after or ending_before, not both.")
        return attrs


PAGINATION_PARAMETERS = [
    OpenApiParameter("limit", int, description="How many objects to return, 1 to 100 (default 10)."),
    OpenApiParameter("starting_after", str, description="Cursor: an object id; returns the page after it."),
    OpenApiParameter("ending_before", str, description="Cursor: an object id; returns the page before it."),
]


def parse_query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paginate(queryset, params: dict, *, prefix: str, key: str = "pk") -> tuple[list, bool]:
    """Keyset pagination on the time-ordered id, newest first. Constant cost at any depth.

    `key` is the field holding that id: the primary key, or for instance `event_id` for rows listed in
    the order of the event they belong to. Returns (objects, has_more).
    """
    limit = params.get("limit", 10)
    after, before = params.get("starting_after"), params.get("ending_before")
    for cursor, name in ((after, "starting_after"), (before, "ending_before")):
        if cursor and not cursor.startswith(prefix + "_"):
            raise ValidationError(f"{name} must be an id starting with '{prefix}_'.", param=name,
                                  code="parameter_invalid")
    if before:
        rows = list(queryset.filter(**{f"{key}__gt": before}).order_by(key)[: limit + 1])
        has_more = len(rows) > limit
        return list(reversed(rows[:limit])), has_more
    if after:
        queryset = queryset.filter(**{f"{key}__lt": after})
    rows = list(queryset.order_by(f"-{key}")[: limit + 1])
    return rows[:limit], len(rows) > limit


def list_response(data: list, has_more: bool, url: str) -> Response:
    return Response({"object": "list", "url": url, "data": data, "has_more": has_more})


def parse_timestamp(value: str, param: str) -> datetime:
    """A unix timestamp or an ISO 8601 date-time (UTC if no offset)."""
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = parse_datetime(value)
    except (ValueError, OverflowError, OSError):  # well-formed but out of range: 2024-13-45, 1e20, +99:00
        parsed = None
    if parsed is None:
        raise ValidationError(
            f"{param} must be a unix timestamp or an ISO 8601 date-time.", param=param, code="parameter_invalid"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- Schema helpers ----------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[
            "invalid_request_error",
            "authentication_error",
            "card_error",
            "permission_error",
            "not_found",
            "idempotency_error",
            "rate_limit_error",
            "api_error",
        ]
    )
    code = serializers.CharField()
    message = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    request_id = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_DESCRIPTIONS = {
    400: "Invalid request (`invalid_request_error`).",
    401: "Missing, invalid or expired access token (`authentication_error`).",
    402: "The card was declined (`card_error`, with `decline_code` and the failed `payment`).",
    403: "The token lacks a required scope (`permission_error`, code `insufficient_scope`).",
    404: "No such object for this merchant (`not_found`).",
    409: "A request with this Idempotency-Key is still in flight (`idempotency_error`).",
    422: "This Idempotency-Key was used with a different request (`idempotency_error`).",
    429: "Too many requests (`rate_limit_error`).",
    500: "Unexpected server error (`api_error`).",
}

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique key (up to 255 characters) that makes this POST safe to retry. The first response "
        "is stored for 24 hours and replayed with `Idempotent-Replayed: true`."
    ),
)


def endpoint_schema(*, summary: str, responses: dict, errors=(400,), request=None, parameters=(),
                    description: str | None = None, tags=None, **kwargs):
    """extend_schema with the standard errors every authenticated endpoint can answer."""
    all_responses = dict(responses)
    for status in sorted({401, 403, 429, 500, *errors}):
        all_responses.setdefault(status, OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[status]))
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=all_responses,
        parameters=list(parameters),
        tags=tags,
        **kwargs,
    )


# --- Strict input fields -----------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, nothing else: "100", 10.0 and true are refused (no silent coercion)."""

    default_error_messages = {"invalid": "Must be an integer (a JSON number without a fraction), not a string."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string, nothing else: numbers are refused rather than turned into text (a card number
    or CVC sent as a JSON number loses leading zeros and has no place in a number type)."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MetadataField(serializers.DictField):
    """Up to 50 string keys of at most 40 characters, values strings of at most 500."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=500, allow_blank=True), **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 50:
            raise serializers.ValidationError("At most 50 metadata keys.")
        for key in value:
            if not key or len(key) > 40:
                raise serializers.ValidationError("Metadata keys must be 1 to 40 characters.")
        return value
