"""Errors: one exception for expected failures, and the API's error envelope.

Every API error answers `{"error": {"type", "code", "message", "param", "request_id"}}`.
Services raise ApplicationError (or a subclass); the DRF exception handler renders it. Nothing
unexpected leaks: other exceptions become a generic `api_error` with no stack trace.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)

ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "card_error",
    "permission_error",
    "not_found",
    "idempotency_error",
    "rate_limit_error",
    "api_error",
}


class ApplicationError(Exception):
    """An expected failure with a stable code, safe to show to the caller."""

    type = "invalid_request_error"
    status = 400
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        type: str | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.param = param
        self.extra = extra or {}


class ValidationError(ApplicationError):
    pass


class NotFound(ApplicationError):
    type = "not_found"
    status = 404
    code = "resource_missing"


class StateError(ApplicationError):
    """The object is not in a state that allows the operation."""

    status = 400
    code = "invalid_state"


class CardError(ApplicationError):
    type = "card_error"
    status = 402
    code = "card_declined"


class IdempotencyError(ApplicationError):
    type = "idempotency_error"
    status = 409
    code = "idempotency_conflict"


def error_body(*, type: str, code: str, message: str, param=None, request_id=None, **extra) -> dict:
    body = {"type": type, "code": code, "message": message, "param": param, "request_id": request_id}
    body.update(extra)
    return {"error": body}


def _request_id(context_or_request) -> str | None:
    request = context_or_request.get("request") if isinstance(context_or_request, dict) else context_or_request
    return getattr(request, "request_id", None)


def _first_validation_error(detail, prefix=""):
    """(param, message, code) of the first field error in a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            param = key if key != "non_field_errors" else None
            if prefix:
                param = f"{prefix}[{key}]" if param else prefix
            return _first_validation_error(value, param or "") if isinstance(value, dict | list) else (
                param, str(value), getattr(value, "code", "invalid")
            )
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, dict | list):
            return _first_validation_error(first, prefix)
        return (prefix or None, str(first), getattr(first, "code", "invalid"))
    return (prefix or None, str(detail), getattr(detail, "code", "invalid"))


# DRF's own validation codes mapped to the API's stable codes.
_VALIDATION_CODES = {
    "required": "parameter_missing",
    "null": "parameter_missing",
    "blank": "parameter_missing",
    "invalid": "parameter_invalid",
    "max_value": "parameter_invalid",
    "min_value": "parameter_invalid",
    "max_length": "parameter_invalid",
    "min_length": "parameter_invalid",
    "invalid_choice": "parameter_invalid",
    "not_a_dict": "parameter_invalid",
    "not_a_list": "parameter_invalid",
    "parse_error": "parse_error",
}


def api_exception_handler(exc, context):
    rid = _request_id(context)
    if isinstance(exc, ApplicationError):
        body = error_body(
            type=exc.type, code=exc.code, message=exc.message, param=exc.param, request_id=rid, **exc.extra
        )
        return Response(body, status=exc.status)
    if isinstance(exc, drf_exceptions.ValidationError):
        param, message, code = _first_validation_error(exc.detail)
        code = _VALIDATION_CODES.get(code, code)
        if param and message and not message.startswith(param):
            message = f"{param}: {message}"
        return Response(
            error_body(type="invalid_request_error", code=code, message=message, param=param, request_id=rid),
            status=400,
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(
            error_body(type="invalid_request_error", code="parse_error", message=str(exc.detail), request_id=rid),
            status=400,
        )
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response(
            error_body(
                type="invalid_request_error",
                code="unsupported_media_type",
                message="Send the request body as JSON with Content-Type: application/json.",
                request_id=rid,
            ),
            status=415,
        )
    if isinstance(exc, drf_exceptions.AuthenticationFailed | drf_exceptions.NotAuthenticated):
        failed = isinstance(exc, drf_exceptions.AuthenticationFailed)
        code = getattr(exc, "api_code", None) or ("invalid_token" if failed else "missing_token")
        message = str(exc.detail) if failed else (
            "No valid access token. Send `Authorization: Bearer <token>` from /oauth/token/."
        )
        response = Response(
            error_body(type="authentication_error", code=code, message=message, request_id=rid), status=401
        )
        # RFC 6750 3.1: no error code when the request had no credentials at all.
        response["WWW-Authenticate"] = f'Bearer realm="api", error="{code}"' if failed else 'Bearer realm="api"'
        return response
    if isinstance(exc, drf_exceptions.PermissionDenied | DjangoPermissionDenied):
        code = getattr(exc, "api_code", None) or "permission_denied"
        return Response(
            error_body(type="permission_error", code=code, message=str(getattr(exc, "detail", exc)), request_id=rid),
            status=403,
        )
    if isinstance(exc, drf_exceptions.NotFound | Http404):
        return Response(
            error_body(
                type="not_found", code="resource_missing", message="No such resource.", request_id=rid
            ),
            status=404,
        )
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Response(
            error_body(type="invalid_request_error", code="method_not_allowed", message=str(exc.detail),
                       request_id=rid),
            status=405,
        )
    if isinstance(exc, drf_exceptions.Throttled):
        response = Response(
            error_body(
                type="rate_limit_error",
                code="rate_limited",
                message="Too many requests. Retry after the number of seconds in Retry-After.",
                request_id=rid,
            ),
            status=429,
        )
        if exc.wait:
            response["Retry-After"] = str(int(exc.wait) + 1)
        return response
    if isinstance(exc, drf_exceptions.APIException):
        client_error = exc.status_code < 500  # e.g. 406 Not Acceptable: the caller's mistake, not ours
        return Response(
            error_body(
                type="invalid_request_error" if client_error else "api_error",
                code=exc.default_code if client_error else "api_error",
                message=str(exc.detail),
                request_id=rid,
            ),
            status=exc.status_code,
        )
    logger.exception("Unhandled error in API view")
    return Response(
        error_body(
            type="api_error",
            code="internal_error",
            message="Something went wrong on our side. Retry, and quote the request id if it persists.",
            request_id=rid,
        ),
        status=500,
    )


def _json_error(request, status, type, code, message):
    return JsonResponse(
        error_body(type=type, code=code, message=message, request_id=getattr(request, "request_id", None)),
        status=status,
    )


def handler404(request, exception=None):
    return _json_error(request, 404, "not_found", "resource_missing", "No such resource or route.")


def handler500(request):
    return _json_error(request, 500, "api_error", "internal_error", "Something went wrong on our side.")


def handler403(request, exception=None):
    return _json_error(request, 403, "permission_error", "permission_denied", "Forbidden.")


def handler400(request, exception=None):
    return _json_error(request, 400, "invalid_request_error", "bad_request", "Bad request.")
