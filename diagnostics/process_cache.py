"""Short-lived per-process caches for what every API request looks up: its token's user and the active model.

An entry lives ``THYROWEB_PROCESS_CACHE_SECONDS`` (default 5; 0 turns the caches off). Inside the process
that makes a change, the caches are emptied at once by signals (a token revoked, a user deactivated or
moved to another group, a model version saved); other processes see the change when their entry expires,
so a revoked token or a new active model takes effect everywhere within that many seconds.
"""

import threading
import time

from django.conf import settings

_caches: list["ExpiringCache"] = []


class ExpiringCache:
    """A dict whose entries expire; safe to share between the threads of a process."""

    def __init__(self, name: str):
        self.name = name
        self._entries: dict = {}
        self._generation = 0  # bumped by clear(): a value computed before a clear is not kept
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, key, compute):
        """The cached value for key, or compute() stored for the configured number of seconds."""
        seconds = settings.THYROWEB_PROCESS_CACHE_SECONDS
        if seconds <= 0:
            return compute()
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
            self._generation += 1


def clear_all() -> None:
    """Empty every process cache (signals on changes; tests between cases)."""
    for cache in _caches:
        cache.clear()


tokens = ExpiringCache("API tokens")
active_version = ExpiringCache("active model version")
