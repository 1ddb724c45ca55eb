"""Gunicorn settings, read automatically from the working directory (docker-compose, Makefile, bench).

Access log lines carry no query string and no referrer: search parameters can hold
medical record numbers. One JSON object per line, with the request id the app sets.
"""

access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"status": "%(s)s", "bytes": "%(B)s", "duration_ms": "%(M)s", "request_id": "%({x-request-id}o)s"}'
)

# Threads, with kept-alive connections spread evenly over the worker processes (thyroweb/gunicorn_worker.py).
# The number of workers is given where gunicorn starts (one per core: Makefile, docker-compose, bench).
worker_class = "thyroweb.gunicorn_worker.BalancedThreadWorker"
threads = 4
keepalive = 5


def child_exit(server, worker):
    """The master reaped a worker (however it ended): free its balancing slot."""
    release = getattr(worker, "release_slot", None)
    if release is not None:
        release()
