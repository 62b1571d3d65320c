"""Request ids: every request gets one, every response carries it, every log line shows it."""

import contextvars
import logging
import re

from core.ids import new_id

_current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def current_request_id() -> str:
    return _current_request_id.get()


class RequestIdMiddleware:
    """Sets request.request_id and the `Request-Id` response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        # A caller's id is kept for tracing, but ours is always generated; never trust input blindly.
        request.request_id = new_id("req")
        request.upstream_request_id = incoming if _SAFE.match(incoming) else None
        token = _current_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response["Request-Id"] = request.request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        request_id = _current_request_id.get()
        if request_id == "-":  # django.request logs after the middleware returned: use the record's request
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True
