"""Claiming and closing Celery work recorded on a row (TrainingRun, ScoringJob), safe when workers race."""

import logging

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from diagnostics.models import JobStatus

logger = logging.getLogger(__name__)


class RequestRefused(ValidationError):
    """A request refused with one message a user can act on (a ValidationError for forms; str() is the message)."""

    def __init__(self, message: str):
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


def claim_job(model: type[models.Model], *, pk: int, task_id: str):
    """The row, now ``running`` for this task; None when another task owns it or it is finished.

    A queued row is claimed with a conditional update, so of two racing workers exactly one wins.
    A running row is resumed only by the same task id: Celery delivers the same message again when
    the worker that ran it was killed (acks_late) or when the task retries.
    """
    first = model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), celery_task_id=task_id
    )
    resumed = not first and model.objects.filter(pk=pk, status=JobStatus.RUNNING, celery_task_id=task_id).exists()
    if not (first or resumed):
        return None
    return model.objects.get(pk=pk)


def fail_job(model: type[models.Model], *, pk: int, message: str) -> bool:
    """Mark an unfinished row failed with a message a user can act on; False if it had already finished."""
    return bool(
        model.objects.filter(pk=pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.FAILED, message=message, finished_at=timezone.now()
        )
    )


def enqueue(task, model: type[models.Model], row) -> None:
    """Send the row's task (run after commit); if the broker cannot be reached, the row fails instead of
    waiting forever in ``queued``."""
    try:
        task.apply_async(args=[row.pk], task_id=row.celery_task_id)
    except Exception as error:
        if task.app.conf.task_always_eager:
            raise  # in-process: the task's own failure, not the broker's
        logger.error("%s %s could not be queued: %s", model.__name__, row.pk, type(error).__name__)
        fail_job(model, pk=row.pk, message="The job could not be queued (the task broker is unreachable); try again.")
