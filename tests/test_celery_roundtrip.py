"""Celery: a real worker against Redis runs a task and stores its result in the database."""

import pytest
from django_celery_results.models import TaskResult

from diagnostics.tasks import health_check


@pytest.mark.slow
def test_health_check_round_trip_through_a_real_worker(celery_worker_process):
    result = health_check.delay()
    payload = result.get(timeout=30)
    assert payload["database"] is True and payload["vendor"] == "postgresql"
    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS" and stored.task_name == "diagnostics.health_check"


def test_health_check_runs_eagerly_in_the_embedded_default(settings, db):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("a broker is configured")
    assert health_check.delay().get()["database"] is True
