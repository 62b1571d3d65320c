"""Scope checks and rate limits for the API (no DRF view imports: loaded by DRF's settings)."""

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
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
        method = request.method.lower()
        if method not in view.http_method_names or not hasattr(view, method):
            return True  # the view has no handler for this method: DRF answers 405, nothing runs
        needed = getattr(view, "required_scopes", {}).get("GET" if request.method == "HEAD" else request.method)
        if needed is None:
            raise exceptions.PermissionDenied("This operation is not available to API clients.")
        missing = [s for s in needed if s not in context.scopes]
        if missing:
            raise InsufficientScope(
                f"The access token lacks the scope(s) this operation needs: {' '.join(missing)}."
            )
        return True


# One atomic step on Redis: count this request in the key's window, open the window (its expiry)
# on the first request, return the count and the milliseconds left. A value in another format
# (DRF's pickled list of timestamps, from before this counter) is replaced instead of failing.
_REDIS_COUNT_HIT = """
local count = redis.pcall('INCR', KEYS[1])
if type(count) ~= 'number' then
  redis.call('DEL', KEYS[1])
  count = redis.call('INCR', KEYS[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


def count_hit(key: str, duration: int) -> tuple[int, float]:
    """Count one request under `key` in a window of `duration` seconds: (requests so far, seconds left)."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)
        count, ttl_ms = client.eval(_REDIS_COUNT_HIT, 1, full_key, duration * 1000)
        return int(count), int(ttl_ms) / 1000
    # Other caches (local memory in development): add() and incr() are atomic per process; the
    # window's end is not known, so the wait given is its whole length (an upper bound).
    if cache.add(key, 1, duration):
        return 1, float(duration)
    try:
        return cache.incr(key), float(duration)
    except (ValueError, TypeError):  # expired in between, or a value in another format
        cache.set(key, 1, duration)
        return 1, float(duration)


class ClientRateThrottle(SimpleRateThrottle):
    """Rate limit per API client (429 `rate_limit_error`): a fixed-window counter.

    A client's first request opens a window as long as the rate's period; each request in it
    increments one counter atomically; past the limit the answer is 429 with Retry-After set to
    what is left of the window. One Redis round trip and constant work per request. (DRF's
    SimpleRateThrottle reads and rewrites the list of every timestamp in the window, up to 6,000
    pickled floats per request at the default rate, and loses counts under concurrent requests.)
    """

    scope = "client"
    _wait: float | None = None

    def get_cache_key(self, request, view):
        context = request.auth
        if isinstance(context, ApiContext):
            return f"throttle:client:{context.client_id}"
        return f"throttle:ip:{self.get_ident(request)}"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, remaining = count_hit(key, self.duration)
        if count > self.num_requests:
            self._wait = remaining
            return False
        return True

    def wait(self):
        return self._wait
