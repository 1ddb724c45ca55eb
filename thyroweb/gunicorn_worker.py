"""A gunicorn gthread worker that spreads kept-alive connections evenly over the worker processes.

All of gunicorn's workers accept from one listening socket, so whichever process wakes first takes a
new connection. A few long-lived keep-alive clients (an integration engine, a load generator) can then
all land on one process, which runs Python on one core while the other processes idle: with 8
connections on 2 workers we measured 260 requests/s when all 8 landed together against 650 when they
split 4/4. Here each worker publishes, in memory shared with its siblings, how many connections it
holds and until when it is sure to answer; it holds back while a responsive sibling holds fewer, and
that sibling takes the connection. The least busy worker never holds back, so some worker always
accepts; a worker that holds back looks again every few milliseconds. A sibling counts only while
responsive: waiting in its event loop, or back there within RESPONSIVE_SECONDS (not one booting,
draining, or blocked in a slow close). The master frees a worker's slot when it exits
(``child_exit`` in gunicorn.conf.py).
"""

import math
import multiprocessing
import os
import time

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 64
HOLD_BACK_POLL_SECONDS = 0.005
RESPONSIVE_SECONDS = 0.05

# Created when the master loads this class, before it forks: shared by every worker (a slot each).
_pids = multiprocessing.RawArray("i", SLOTS)  # 0: free; -1: reserved for a worker not yet running
_connections = multiprocessing.RawArray("i", SLOTS)
_responsive_until = multiprocessing.RawArray("d", SLOTS)  # time.monotonic() (system-wide); inf: in its loop


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or reused by a process we may not signal
        return False
    return True


class BalancedThreadWorker(ThreadWorker):
    """gthread accepting by least connections among sibling workers."""

    def __init__(self, *args, **kwargs):
        # Runs in the master before the fork: take a free slot (or one whose worker is gone).
        self._slot = next((i for i in range(SLOTS) if _pids[i] == 0 or (_pids[i] > 0 and not _alive(_pids[i]))), None)
        if self._slot is not None:
            _pids[self._slot], _connections[self._slot], _responsive_until[self._slot] = -1, 0, 0.0
        super().__init__(*args, **kwargs)

    def release_slot(self) -> None:
        """Free the slot (the master calls it when the worker exited, however it ended)."""
        if self._slot is not None:
            _responsive_until[self._slot], _connections[self._slot], _pids[self._slot] = 0.0, 0, 0

    def init_process(self):
        if self._slot is not None:
            _pids[self._slot] = os.getpid()
        super().init_process()

    def run(self):
        try:
            super().run()
        finally:
            self.release_slot()

    def handle_exit(self, sig, frame):
        if self._slot is not None:
            _responsive_until[self._slot] = 0.0  # draining: siblings stop holding back for it
        super().handle_exit(sig, frame)

    # ThreadWorker counts its open connections (working and kept alive) in nr_conns: publish it.
    @property
    def nr_conns(self) -> int:
        return self._nr_conns

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._nr_conns = value
        if self._slot is not None:
            _connections[self._slot] = value

    # ThreadWorker accepts while nr_conns < worker_connections: make that limit one more than the
    # least busy responsive sibling holds (never more than the configured limit).
    @property
    def worker_connections(self) -> int:
        limit = self._configured_connections
        if self._slot is None or not self.alive:
            return limit
        now = time.monotonic()
        for i in range(SLOTS):
            if i != self._slot and _responsive_until[i] > now and _pids[i] > 0:
                fewer = _connections[i] + 1
                if fewer < limit and _alive(_pids[i]):
                    limit = fewer
        return limit

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._configured_connections = value

    def wait_for_and_dispatch_events(self, timeout):
        # Holding back for a sibling: look again soon rather than after gunicorn's one-second tick.
        if self.alive and not self._accepting and self._nr_conns < self._configured_connections:
            timeout = min(timeout, HOLD_BACK_POLL_SECONDS)
        if self._slot is not None and self.alive:
            _responsive_until[self._slot] = math.inf
        try:
            super().wait_for_and_dispatch_events(timeout)
        finally:
            if self._slot is not None:
                _responsive_until[self._slot] = time.monotonic() + RESPONSIVE_SECONDS if self.alive else 0.0
