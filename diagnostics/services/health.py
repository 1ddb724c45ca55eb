"""Is this process ready to serve? The database, the broker (when configured) and the active model, checked.

Used by ``/readyz`` (load balancers, compose health checks) and before a job is queued, so that an
upload while the broker is down is refused at once instead of answered "queued" and then failed.
"""

import os

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.translation import gettext as _

from diagnostics.services.registry import active_model_version, load_predictor

BROKER_TIMEOUT_SECONDS = 2


class BrokerUnavailable(Exception):
    """The job queue (Redis, or the embedded broker's folder) does not answer: nothing can be queued now."""


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def broker_reachable() -> bool:
    """True when no broker is configured (tasks run in-process), the embedded broker's queue folder can be
    written, or the Redis broker answers a ping."""
    if not settings.CELERY_BROKER_URL:
        return True
    if settings.THYROWEB_EMBEDDED_BROKER:
        queue = settings.EMBEDDED_BROKER_DIR / "queue"
        return queue.is_dir() and os.access(queue, os.W_OK | os.X_OK)
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def require_broker() -> None:
    """Raise BrokerUnavailable unless a job queued now would reach a worker."""
    if not broker_reachable():
        raise BrokerUnavailable(_("The job queue is unreachable, so nothing was queued; try again in a few minutes."))


def active_model_loadable() -> bool:
    try:
        load_predictor(active_model_version())
        return True
    except Exception:  # noqa: BLE001 (any reason the model cannot serve makes the process not ready)
        return False


def readiness() -> dict[str, bool]:
    """Each check by name: True when it passed. The model is checked only when the database answers."""
    checks = {"database": database_reachable()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = broker_reachable()
    checks["model"] = checks["database"] and active_model_loadable()
    return checks
