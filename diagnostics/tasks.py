"""Celery tasks: take ids, call a service, record status on a row (tasks import services, never the reverse)."""

import socket

from celery import shared_task
from django.db import connection

from diagnostics.models import ScoringJob, TrainingRun
from diagnostics.services import jobs, monitoring, scoring_jobs, training


@shared_task(name="diagnostics.health_check", ignore_result=False)
def health_check() -> dict:
    """Prove a worker is alive and reaches the database (its result is stored, for the round-trip check)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"worker": socket.gethostname(), "database": one == 1, "vendor": connection.vendor}


# Batch scoring and training: the message is acknowledged only when the task ends (CELERY_TASK_ACKS_LATE),
# so a killed worker's job is delivered again; the healer (heal_jobs) queues it again sooner, once its
# heartbeat is stale. A lost database connection is retried. No Celery result is stored: the row is the state.
RETRY_DELAYS = (5, 30, 120)
JOB_TASK = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def _run_job(task, process, model, pk: int, what: str) -> None:
    """Run a job's service, beating its heartbeat; retry on a lost database connection, then mark the row failed."""
    try:
        with jobs.heartbeat(model, pk):
            process(pk, task.request.id)
    except Exception as error:
        if not jobs.is_transient(error):
            raise
        if task.request.retries >= len(RETRY_DELAYS):
            try:
                message = f"The {what} stopped: the database was unreachable after several tries."
                jobs.fail_job(model, pk=pk, message=message)
            except Exception as still_down:  # noqa: BLE001 (the healer fails or resumes it later)
                if not jobs.is_transient(still_down):
                    raise
            return
        delay = RETRY_DELAYS[task.request.retries]
        raise task.retry(exc=error, countdown=delay, max_retries=len(RETRY_DELAYS)) from error


@shared_task(name=jobs.JOB_TASKS[ScoringJob], **JOB_TASK)
def run_scoring_job(self, job_id: int) -> None:
    """Score an uploaded file's accepted rows (ScoringJob id)."""

    def process(pk, task_id):
        scoring_jobs.process_scoring_job(job_id=pk, task_id=task_id)

    _run_job(self, process, ScoringJob, job_id, "scoring job")


@shared_task(name=scoring_jobs.HELPER_TASK, **JOB_TASK)
def help_scoring_job(self, job_id: int) -> None:
    """Join a running scoring job: score its chunks that no other worker holds (queued by run_scoring_job)."""

    def process(pk, task_id):
        scoring_jobs.help_scoring_job(job_id=pk)

    _run_job(self, process, ScoringJob, job_id, "scoring job")


@shared_task(name=jobs.JOB_TASKS[TrainingRun], **JOB_TASK)
def run_training(self, run_id: int) -> None:
    """Train a candidate model version (TrainingRun id). TensorFlow is imported inside, in the worker only."""

    def process(pk, task_id):
        training.process_training_run(run_id=pk, task_id=task_id)

    _run_job(self, process, TrainingRun, run_id, "training run")


@shared_task(name="diagnostics.heal_jobs", ignore_result=True)
def heal_jobs() -> int:
    """Scheduled by django-celery-beat every THYROWEB_JOB_HEAL_SECONDS: queue lost jobs again."""
    return len(jobs.heal_lost_jobs())


@shared_task(name="diagnostics.periodic_retrain")
def periodic_retrain() -> int | None:
    """Scheduled by django-celery-beat (see the schedule_retrain command): queue a training run."""
    run = training.start_periodic_retrain()
    return run.pk if run is not None else None


@shared_task(name="diagnostics.refresh_monitoring")
def refresh_monitoring() -> list[int]:
    """Scheduled daily by django-celery-beat (migration 0007, "Model monitoring"): store the active model's
    monitoring figures by week and month, and audit any new alert."""
    return [snapshot.pk for snapshot in monitoring.refresh_monitoring()]
