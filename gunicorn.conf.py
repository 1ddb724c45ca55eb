"""Gunicorn settings, read automatically from the working directory (docker-compose, Makefile, bench).

Access log lines carry no query string and no referrer: search parameters can hold
medical record numbers. One JSON object per line, with the request id the app sets.
"""

access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"status": "%(s)s", "bytes": "%(B)s", "duration_ms": "%(M)s", "request_id": "%({x-request-id}o)s"}'
)

# Threads: a worker process reads requests on its own event loop and runs them on 4 threads. nginx in front
# (deploy/nginx.conf) buffers slow clients and spreads its upstream connections over the processes.
# The number of workers is given where gunicorn starts (one per core: Makefile, docker-compose, bench).
worker_class = "gthread"
threads = 4
keepalive = 5
