"""Per-user request throttling for the API, counted in the shared cache (Redis when configured)."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache as shared_cache
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from diagnostics.process_cache import redis_client

logger = logging.getLogger(__name__)

# The sliding window of DRF's throttle (the times of the requests allowed within the last `duration`
# seconds, at most `limit` of them), kept in a Redis sorted set and decided in Redis in one round trip:
# DRF's own throttle reads and writes back a pickled list of every timestamp, up to `limit` of them (30,000
# by default), on every request. Returns [allowed, the oldest time in the window].
_SLIDING_WINDOW = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  allowed = 1
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {allowed, oldest[2] or tostring(now)}
"""


class PerUserThrottle(UserRateThrottle):
    """UserRateThrottle reading its rate when asked, so a settings change applies without a restart; with
    Redis the window is kept there, so the count holds across every gunicorn process. A cache that does not
    answer lets the request through (and logs it) rather than failing every API call."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            if self.rate is None or not settings.SHARED_CACHE:
                return super().allow_request(request, view)  # no Redis: DRF's list in the process's cache
            return self._allow_in_redis(request, view)
        except Exception as error:  # noqa: BLE001 (Redis down)
            logger.warning("throttle not applied, shared cache unreachable: %s", error.__class__.__name__)
            return True

    def _allow_in_redis(self, request, view) -> bool:
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        name = shared_cache.make_and_validate_key(self.key)
        self.now = self.timer()
        allowed, oldest = redis_client().eval(
            _SLIDING_WINDOW, 1, name, repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex
        )
        self.window_start = float(oldest)  # the oldest request in the window: wait() counts from it
        return bool(allowed)

    def wait(self) -> float | None:
        """Seconds until the oldest request of a full window leaves it (DRF's own rule otherwise)."""
        if not hasattr(self, "window_start"):
            return super().wait()
        return max(0.0, self.duration - (self.now - self.window_start))
