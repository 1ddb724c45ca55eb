"""Celery work recorded on a row (TrainingRun, ScoringJob): queuing, claiming, heartbeats, healing, closing.

Safe when workers race, die or lose their database or broker for a while: a job is claimed with a
conditional update; while it runs, its row's ``heartbeat_at`` is refreshed (each chunk or epoch, and by a
timer thread); the healer (a periodic task) queues again a running job whose heartbeat is stale and a
queued job whose task the broker lost, counting attempts, and records each recovery on the row.
"""

import json
import logging
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta

import redis
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from diagnostics.models import JobStatus, ScoringJob, TrainingRun

logger = logging.getLogger(__name__)

# The task that runs (or resumes) each kind of job, by name: services never import tasks.
JOB_TASKS: dict[type[models.Model], str] = {
    TrainingRun: "diagnostics.run_training",
    ScoringJob: "diagnostics.run_scoring_job",
}
WORKER_LOST, LOST_FROM_BROKER, GAVE_UP = "worker_lost", "lost_from_broker", "gave_up"


class RequestRefused(ValidationError):
    """A request refused with one message a user can act on (a ValidationError for forms; str() is the message)."""

    def __init__(self, message: str):
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


def is_transient(error: Exception) -> bool:
    """A lost database connection is worth a retry; anything else is not."""
    return isinstance(error, (OperationalError, InterfaceError))


def claim_job(model: type[models.Model], *, pk: int, task_id: str):
    """The row, now ``running`` for this task; None when another task owns it or it is finished.

    A queued row is claimed with a conditional update, so of two racing workers exactly one wins; each
    claim counts an attempt. A running row is resumed only by the same task id: Celery delivers the same
    message again when the worker that ran it was killed (acks_late) or when the task retries.
    """
    now = timezone.now()
    first = model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        celery_task_id=task_id,
        attempts=F("attempts") + 1,
    )
    resumed = not first and model.objects.filter(pk=pk, status=JobStatus.RUNNING, celery_task_id=task_id).update(
        heartbeat_at=now
    )
    if not (first or resumed):
        return None
    return model.objects.get(pk=pk)


def finish_job(model: type[models.Model], *, pk: int, task_id: str | None = None, **fields) -> bool:
    """Mark a running row succeeded (progress 1, finished now, with ``fields``), if it still runs and, when
    ``task_id`` is given, this attempt still owns it (the healer may have handed it to another one);
    False when it did not."""
    owned = {"celery_task_id": task_id} if task_id is not None else {}
    return bool(
        model.objects.filter(pk=pk, status=JobStatus.RUNNING, **owned).update(
            status=JobStatus.SUCCEEDED, progress=1.0, finished_at=timezone.now(), **fields
        )
    )


def fail_job(model: type[models.Model], *, pk: int, message: str) -> bool:
    """Mark an unfinished row failed with a message a user can act on; False if it had already finished."""
    return bool(
        model.objects.filter(pk=pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.FAILED, message=message, finished_at=timezone.now()
        )
    )


def enqueue(task, model: type[models.Model], row) -> None:
    """Send the row's task (a task or its name; run after commit); if the broker cannot be reached, the row
    fails instead of waiting forever in ``queued``."""
    task = current_app.tasks[task] if isinstance(task, str) else task
    try:
        task.apply_async(args=[row.pk], task_id=row.celery_task_id)
    except Exception as error:
        if task.app.conf.task_always_eager:
            raise  # in-process: the task's own failure, not the broker's
        logger.error("%s %s could not be queued: %s", model.__name__, row.pk, type(error).__name__)
        fail_job(model, pk=row.pk, message="The job could not be queued (the task broker is unreachable); try again.")


# --- Heartbeats ---


def beat(model: type[models.Model], pk: int) -> None:
    """Record a sign of life of a running job (also written with each chunk or epoch)."""
    model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())


@contextmanager
def heartbeat(model: type[models.Model], pk: int):
    """Beat every THYROWEB_JOB_HEARTBEAT_SECONDS from a thread while the block runs (a long epoch or chunk
    would otherwise look like a dead worker); the thread survives a database outage and stops with the block."""
    stop = threading.Event()
    interval = settings.THYROWEB_JOB_HEARTBEAT_SECONDS

    def run() -> None:
        try:
            while not stop.wait(interval):
                try:
                    beat(model, pk)
                except Exception as error:  # noqa: BLE001 (the database is away: beat again later)
                    logger.warning("%s %s: heartbeat not written (%s)", model.__name__, pk, type(error).__name__)
                    connection.close()
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=run, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# --- Healing ---


def recovery_message(entry: dict) -> str:
    """What the healer did, for the job pages and the API ("worker lost at …, resumed")."""
    moment = datetime.fromisoformat(entry["at"])
    at = formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    if entry["reason"] == WORKER_LOST:
        message = gettext("Worker lost at %(at)s, resumed (attempt %(attempt)s).")
        return message % {"at": at, "attempt": entry["attempt"]}
    if entry["reason"] == LOST_FROM_BROKER:
        return gettext("Queued task lost by the broker at %(at)s, queued again.") % {"at": at}
    message = gettext("Worker lost at %(at)s after %(attempt)s attempts: the job was stopped.")
    return message % {"at": at, "attempt": entry["attempt"]}


def embedded_broker_task_ids() -> set[str] | None:
    """Ids of the tasks waiting in the embedded broker's queue folder (one JSON file per message, named
    ``<time>_<uuid>.<queue>.msg``); a delivered message leaves the folder, and its job is claimed at once
    (acks_late with one message per worker), so a queued job whose task is not here was lost."""
    queue = current_app.conf.task_default_queue
    folder = settings.EMBEDDED_BROKER_DIR / "queue"
    try:
        paths = [path for path in folder.iterdir() if path.name.partition(".")[2] == f"{queue}.msg"]
    except OSError as error:
        logger.warning("healer: the broker's tasks cannot be listed (%s)", type(error).__name__)
        return None
    ids = set()
    for path in paths:
        try:
            ids.add(json.loads(path.read_bytes())["headers"]["id"])
        except (OSError, ValueError, LookupError, TypeError):
            continue  # taken by a worker meanwhile, or not a task message
    return ids


def broker_task_ids() -> set[str] | None:
    """Ids of the tasks the broker holds (waiting in a queue, or delivered and not yet acknowledged);
    None when that cannot be known (no broker, or Redis unreachable)."""
    if settings.THYROWEB_EMBEDDED_BROKER:
        return embedded_broker_task_ids()
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    queue = current_app.conf.task_default_queue
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        # kombu keeps a queue as a list (one per priority: "celery", "celery\x06\x163", ...) and the
        # delivered, unacknowledged messages in the "unacked" hash as [message, exchange, routing key].
        waiting = [raw for key in client.scan_iter(match=f"{queue}*") if client.type(key) == b"list"
                   for raw in client.lrange(key, 0, -1)]  # fmt: skip
        delivered = client.hvals("unacked")
    except redis.RedisError as error:
        logger.warning("healer: the broker's tasks cannot be listed (%s)", type(error).__name__)
        return None
    ids = set()
    for raw, unacked in [*((raw, False) for raw in waiting), *((raw, True) for raw in delivered)]:
        try:
            message = json.loads(raw)
            message = message[0] if unacked else message
            ids.add(message["headers"]["id"])
        except (ValueError, LookupError, TypeError):
            continue
    return ids


def heal_lost_jobs() -> list[tuple[str, int, str]]:
    """Queue again every running job whose heartbeat is stale and every queued job the broker lost;
    fail one that has used its attempts. Returns (model name, id, what was done) per job touched."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.THYROWEB_JOB_STALE_SECONDS)
    grace = now - timedelta(seconds=settings.THYROWEB_JOB_QUEUED_GRACE_SECONDS)
    in_broker = None
    healed = []
    for model in JOB_TASKS:
        silent = model.objects.annotate(last=Coalesce("heartbeat_at", "started_at", "created_at"))
        for row in silent.filter(status=JobStatus.RUNNING, last__lt=stale):
            healed.append((model.__name__, row.pk, _requeue(model, row, now, WORKER_LOST)))
        waiting = list(silent.filter(status=JobStatus.QUEUED, last__lt=grace))
        if waiting and in_broker is None:
            in_broker = broker_task_ids()
            if in_broker is None:
                continue
        for row in waiting:
            if row.celery_task_id not in in_broker:
                healed.append((model.__name__, row.pk, _requeue(model, row, now, LOST_FROM_BROKER)))
    for name, pk, done in healed:
        logger.warning("healer: %s %s %s", name, pk, done)
    return healed


def _requeue(model: type[models.Model], row, now: datetime, reason: str) -> str:
    """Queue the row again with a new task id (or fail it when its attempts are used up), if nobody
    touched it since it was read; what was done."""
    give_up = reason == WORKER_LOST and row.attempts >= settings.THYROWEB_JOB_MAX_ATTEMPTS
    entry = {"at": now.isoformat(), "reason": GAVE_UP if give_up else reason,
             "attempt": row.attempts if give_up else row.attempts + 1}  # fmt: skip
    unchanged = Q(pk=row.pk, status=row.status, celery_task_id=row.celery_task_id, heartbeat_at=row.heartbeat_at)
    with transaction.atomic():
        if give_up:
            message = (
                f"The job was stopped: its worker was lost {row.attempts} times (the last at "
                f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S}). Start it again once the workers are stable."
            )
            done = model.objects.filter(unchanged).update(
                status=JobStatus.FAILED, finished_at=now, message=message, recoveries=[*row.recoveries, entry]
            )
            return "failed" if done else "skipped"
        row.celery_task_id = str(uuid.uuid4())
        done = model.objects.filter(unchanged).update(
            status=JobStatus.QUEUED,
            celery_task_id=row.celery_task_id,
            heartbeat_at=now,
            recoveries=[*row.recoveries, entry],
        )
        if done:
            transaction.on_commit(lambda: enqueue(JOB_TASKS[model], model, row))
    return "queued again" if done else "skipped"


HEAL_TASK_NAME = "Heal lost jobs"


def ensure_heal_schedule() -> None:
    """The healer's django-celery-beat schedule, every THYROWEB_JOB_HEAL_SECONDS and enabled (migration
    0005 creates it; set-up keeps it equal to the setting)."""
    every, _ = IntervalSchedule.objects.get_or_create(
        every=settings.THYROWEB_JOB_HEAL_SECONDS, period=IntervalSchedule.SECONDS
    )
    # A run not started within one interval (every worker busy) is dropped: the next one does its work.
    PeriodicTask.objects.update_or_create(
        name=HEAL_TASK_NAME,
        defaults={"task": "diagnostics.heal_jobs", "interval": every, "enabled": True, "expire_seconds": every.every},
    )
