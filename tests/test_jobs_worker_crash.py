"""A worker killed (SIGKILL) in the middle of a batch job: another worker finishes it, every row scored once;
two workers running at once share the chunks of one job.

The message is acknowledged only when the task ends (acks_late), so Redis hands it out again once the
visibility timeout has passed (3 s here instead of an hour); the second worker resumes the job where the
committed chunks stop.
"""

import time

import pytest

from diagnostics.models import JobStatus, LabPanel, Patient, Prediction, ScoringChunk, ScoringJob
from diagnostics.roles import ensure_groups
from diagnostics.services.scoring_jobs import result_csv_text, start_scoring_job
from tests.celery_worker import run_worker, worker_support_missing
from tests.job_builders import scorable_dev_lines, upload
from thyroweb.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 4000
# Redelivery after 3 s (looked for every second) instead of an hour. The tests upload in small chunks
# (THYROWEB_SCORING_CHUNK_ROWS, read when the upload is split) so that the kill lands mid-job.
WORKER_ENV = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_RESTORE_SECONDS": "1"}


def scored_rows(job_id: int) -> tuple[str, int]:
    return ScoringJob.objects.filter(pk=job_id).values_list("status", "scored_rows").get()


def test_a_job_survives_a_killed_worker_with_every_row_scored_exactly_once(media_root, active_version, settings):
    settings.THYROWEB_SCORING_CHUNK_ROWS = 200  # the upload splits the rows into chunks
    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    ensure_groups()
    celery_app.control.purge()
    with run_worker(env=WORKER_ENV) as first:
        job = start_scoring_job(user=None, uploaded_file=upload("\n".join(scorable_dev_lines(ROWS)), "many.data"))
        deadline = time.monotonic() + 60
        while scored_rows(job.pk)[1] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()
    status, scored_at_kill = scored_rows(job.pk)
    assert status == JobStatus.RUNNING and 0 < scored_at_kill < job.accepted_rows, first.log()

    with run_worker(env=WORKER_ENV) as second:
        deadline = time.monotonic() + 90
        while scored_rows(job.pk)[0] == JobStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, f"{job.status}: {job.message}\n{second.log()}"

    refs = list(
        LabPanel.objects.filter(source=LabPanel.Source.CSV, source_ref__startswith=f"job{job.pk}:").values_list(
            "source_ref", flat=True
        )
    )
    assert sorted(refs) == sorted(f"job{job.pk}:line{n}" for n in range(1, ROWS + 1))
    predictions = Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:")
    assert predictions.count() == ROWS and predictions.values("panel").distinct().count() == ROWS
    record_ids = {line.rsplit("[", 1)[1] for line in scorable_dev_lines(ROWS)}
    assert job.scored_rows == ROWS and Patient.objects.count() == len(record_ids)  # no patient twice either
    assert len(result_csv_text(job).splitlines()) == ROWS + 1


def test_two_workers_share_the_chunks_of_one_job_and_score_every_row_once(media_root, active_version, settings):
    settings.THYROWEB_SCORING_CHUNK_ROWS = 100
    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    ensure_groups()
    celery_app.control.purge()
    with run_worker(env=WORKER_ENV) as first, run_worker(env=WORKER_ENV):
        job = start_scoring_job(user=None, uploaded_file=upload("\n".join(scorable_dev_lines(ROWS)), "shared.data"))
        deadline = time.monotonic() + 90
        while scored_rows(job.pk)[0] in (JobStatus.QUEUED, JobStatus.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.2)
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, f"{job.status}: {job.message}\n{first.log()}"

    chunks = list(ScoringChunk.objects.filter(job=job))
    assert len(chunks) == ROWS // 100 and all(chunk.done_at for chunk in chunks)
    assert len({chunk.done_by for chunk in chunks}) == 2  # both workers scored chunks of the one job
    predictions = Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:")
    assert predictions.count() == ROWS and predictions.values("panel").distinct().count() == ROWS
    lines = [row.split(",", 1)[0] for row in result_csv_text(job).splitlines()[1:]]
    assert lines == [str(n) for n in range(1, ROWS + 1)]


def test_a_training_run_whose_worker_is_killed_never_touches_the_active_model_and_is_run_again(
    media_root, active_version
):
    from diagnostics.models import ModelVersion, TrainingRun
    from diagnostics.services.training import start_training_run

    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    celery_app.control.purge()
    with run_worker(env=WORKER_ENV) as first:
        run = start_training_run(user=None, data_file="thyroid0387-dev.data", params={"epochs": 4, "max_records": 600})
        deadline = time.monotonic() + 120
        while TrainingRun.objects.get(pk=run.pk).epoch < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING and 1 <= run.epoch < 4, first.log()
    assert list(ModelVersion.objects.values_list("version", "status")) == [(active_version.version, "active")]

    with run_worker(env=WORKER_ENV) as second:
        deadline = time.monotonic() + 180
        while TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
        run.refresh_from_db()
        assert run.status == JobStatus.SUCCEEDED, f"{run.status}: {run.message}\n{second.log()}"

    assert run.result_version.status == "candidate" and run.progress == 1.0
    assert [report["epoch"] for report in run.history if report.get("stage", "fit") == "fit"] == [1, 2, 3, 4]
    assert ModelVersion.objects.get(status="active") == active_version
    assert not list((media_root / "models").glob(".tmp-*"))  # the killed attempt's scratch folder is gone too
