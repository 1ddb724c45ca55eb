"""Celery tasks: take ids, call a service, record status on a row."""

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="diagnostics.health_check")
def health_check() -> dict:
    """Prove a worker is alive and reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"worker": socket.gethostname(), "database": one == 1, "vendor": connection.vendor}


# Batch scoring and training: the message is acknowledged only when the task ends (CELERY_TASK_ACKS_LATE),
# so a killed worker's job is delivered again and resumed; a lost database connection is retried.
RETRY_DELAYS = (5, 30, 120)


def _run_job(task, process, model, pk: int, what: str) -> None:
    """Run a job's service; retry on a lost database connection, then mark the row failed."""
    from diagnostics.services.batch import is_transient
    from diagnostics.services.jobs import fail_job

    try:
        process(pk, task.request.id)
    except Exception as error:
        if not is_transient(error):
            raise
        if task.request.retries >= len(RETRY_DELAYS):
            fail_job(model, pk=pk, message=f"The {what} stopped: the database was unreachable after several tries.")
            raise
        delay = RETRY_DELAYS[task.request.retries]
        raise task.retry(exc=error, countdown=delay, max_retries=len(RETRY_DELAYS)) from error


@shared_task(name="diagnostics.run_scoring_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_scoring_job(self, job_id: int) -> None:
    """Score an uploaded file's accepted rows (ScoringJob id)."""
    from diagnostics.models import ScoringJob
    from diagnostics.services.batch import process_scoring_job

    def process(pk, task_id):
        process_scoring_job(job_id=pk, task_id=task_id)

    _run_job(self, process, ScoringJob, job_id, "scoring job")


@shared_task(name="diagnostics.help_scoring_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def help_scoring_job(self, job_id: int) -> None:
    """Join a running scoring job: score its chunks that no other worker holds (queued by run_scoring_job)."""
    from diagnostics.models import ScoringJob
    from diagnostics.services.batch import help_scoring_job as help_job

    def process(pk, task_id):
        help_job(job_id=pk)

    _run_job(self, process, ScoringJob, job_id, "scoring job")


@shared_task(name="diagnostics.run_training", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_training(self, run_id: int) -> None:
    """Train a candidate model version (TrainingRun id). TensorFlow is imported inside, in the worker only."""
    from diagnostics.models import TrainingRun
    from diagnostics.services.training import process_training_run

    def process(pk, task_id):
        process_training_run(run_id=pk, task_id=task_id)

    _run_job(self, process, TrainingRun, run_id, "training run")


@shared_task(name="diagnostics.periodic_retrain")
def periodic_retrain() -> int | None:
    """Scheduled by django-celery-beat (see the schedule_retrain command): queue a training run."""
    from diagnostics.services.training import start_periodic_retrain

    run = start_periodic_retrain()
    return run.pk if run is not None else None


@shared_task(name="diagnostics.refresh_monitoring")
def refresh_monitoring() -> list[int]:
    """Scheduled daily by django-celery-beat (migration 0007, "Model monitoring"): store the active model's
    monitoring figures by week and month, and audit any new alert."""
    from diagnostics.services.monitoring import refresh_monitoring as refresh

    return [snapshot.pk for snapshot in refresh()]
