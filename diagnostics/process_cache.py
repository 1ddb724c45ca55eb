"""Short-lived caches for what every API request looks up: its token's user and the active model.

An entry lives ``THYROWEB_PROCESS_CACHE_SECONDS`` (default 5; 0 turns the caches off). With Redis
configured (settings.SHARED_CACHE) the entries live there, shared by every process and machine: a change
made anywhere (a token revoked, a user deactivated or moved to another group, a model version saved)
empties the cache for all of them at once, through a generation counter its signals bump. Without Redis
(the embedded default) each process keeps its own entries: the process that makes a change sees it at
once, the others when their entry expires. A Redis that does not answer is skipped (the value is looked
up in the database), never an error.
"""

import hashlib
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache as shared_cache

logger = logging.getLogger(__name__)
_MISSING = object()

_caches: list["ExpiringCache"] = []
_redis = None


def redis_client():
    """The shared cache's Redis client, made once per process: Django's cache makes a new client object for
    each operation (a third of a millisecond of Python), and the lookups here are on every API request."""
    global _redis
    if _redis is None:
        _redis = shared_cache._cache.get_client(write=True)
    return _redis


def _loads(raw):
    """A value as Django's Redis cache stored it (integers as text, the rest pickled), or _MISSING."""
    return _MISSING if raw is None else shared_cache._cache._serializer.loads(raw)


class ExpiringCache:
    """A dict whose entries expire; safe to share between the threads of a process."""

    def __init__(self, name: str):
        self.name = name
        self.slug = "-".join(name.lower().split())  # for cache keys (no spaces)
        self._entries: dict = {}
        self._generation = 0  # bumped by clear(): a value computed before a clear is not kept
        self._shared_generation = 0  # the shared generation this process read last (Redis)
        self._copies: dict = {}  # digest -> (expiry, shared generation, decoded value), with Redis
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, key, compute):
        """The cached value for key, or compute() stored for the configured number of seconds."""
        seconds = settings.THYROWEB_PROCESS_CACHE_SECONDS
        if seconds <= 0:
            return compute()
        if settings.SHARED_CACHE:
            return self._get_shared(key, compute, seconds)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        generation = self._generation
        value = compute()
        with self._lock:
            if generation == self._generation:
                if len(self._entries) > 10_000:  # many distinct tokens: drop them all rather than grow
                    self._entries.clear()
                self._entries[key] = (now + seconds, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._copies.clear()
            self._generation += 1
        if settings.SHARED_CACHE:
            try:
                shared_cache.incr(self._generation_key)
            except ValueError:  # no counter yet (or it was evicted): any new value differs from the old
                shared_cache.set(self._generation_key, time.time_ns(), timeout=None)
            except Exception as error:  # noqa: BLE001 (Redis down: entries expire by themselves)
                logger.warning("shared cache unreachable: %s", error.__class__.__name__)

    @property
    def _generation_key(self) -> str:
        return f"process-cache:{self.slug}:generation"

    def _name(self, generation, digest: str) -> str:
        return f"process-cache:{self.slug}:{generation}:{digest}"

    def _get_shared(self, key, compute, seconds: int):
        # The key may be a secret (an API token): only its digest goes to Redis.
        digest = hashlib.sha256(str(key).encode()).hexdigest()
        now = time.monotonic()
        copy = self._copies.get(digest)
        try:
            if copy is not None and copy[0] > now:
                # A value this process decoded (a user, a model version: unpickling one costs more than the
                # whole lookup): kept while the shared generation has not moved, so a change made anywhere
                # still reaches this process at once. One small read per request.
                generation = _loads(redis_client().get(shared_cache.make_and_validate_key(self._generation_key)))
                if generation == copy[1]:
                    return copy[2]
            # The generation and the entry of the generation this process saw last, read together; a second
            # read only when the generation moved since.
            seen = self._shared_generation
            keys = [shared_cache.make_and_validate_key(self._generation_key),
                    shared_cache.make_and_validate_key(self._name(seen, digest))]  # fmt: skip
            generation, value = (_loads(raw) for raw in redis_client().mget(keys))
            if generation is _MISSING:
                shared_cache.add(self._generation_key, 0, timeout=None)
                generation = shared_cache.get(self._generation_key, 0)
            self._shared_generation = generation
            name = self._name(generation, digest)
            if generation != seen:
                value = shared_cache.get(name, _MISSING)
        except Exception as error:  # noqa: BLE001 (Redis down: look the value up instead)
            logger.warning("shared cache unreachable: %s", error.__class__.__name__)
            return compute()
        if value is _MISSING:
            value = compute()
            try:
                shared_cache.set(name, value, timeout=seconds)
            except Exception as error:  # noqa: BLE001
                logger.warning("shared cache unreachable: %s", error.__class__.__name__)
        with self._lock:
            if len(self._copies) > 10_000:  # many distinct tokens: drop them all rather than grow
                self._copies.clear()
            self._copies[digest] = (now + seconds, generation, value)
        return value


def clear_all() -> None:
    """Empty every process cache (signals on changes; tests between cases)."""
    for cache in _caches:
        cache.clear()


tokens = ExpiringCache("API tokens")
active_version = ExpiringCache("active model version")
