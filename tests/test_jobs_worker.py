"""Jobs through a real Celery worker (Redis broker, PostgreSQL test database): batch scoring and training.
Skipped in the embedded default (SQLite, eager tasks); the service tests cover the same rules there."""

import csv
import io
import time

import pytest

from diagnostics.models import JobStatus, LabPanel, ModelVersion, Prediction, ScoringJob, TrainingRun
from diagnostics.roles import ensure_groups
from diagnostics.services.registry import artefact_dir, load_predictor
from diagnostics.services.scoring_jobs import result_csv_text, start_scoring_job
from diagnostics.services.training import start_training_run
from mlcore.holdout import SPLIT_DESCRIPTION
from tests.celery_worker import run_worker, worker_support_missing
from tests.job_builders import csv_text, dev_lines, dev_records, upload
from thyroweb.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_until_finished(model, pk: int, worker, timeout: float = 90):
    """The row once it is succeeded or failed (an AssertionError with the worker's log otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = model.objects.get(pk=pk)
        if row.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return row
        time.sleep(0.2)
    raise AssertionError(f"{model.__name__} {pk} still {row.status} after {timeout} s; worker log:\n{worker.log()}")


@pytest.fixture(scope="module")
def worker_media(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture(scope="module")
def module_worker(django_db_setup, worker_media):
    """One worker for this module's tests (it starts once; each test has its own committed data), with a
    MEDIA_ROOT of its own: it shares no disk with this process, which plays the web process."""
    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    celery_app.control.purge()
    with run_worker(env={"MEDIA_ROOT": str(worker_media)}) as worker:
        yield worker


@pytest.fixture
def web_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web-media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def worker(module_worker, web_media):
    return module_worker


@pytest.fixture(autouse=True)
def _role_groups(transactional_db):
    ensure_groups()  # the flush after a transactional test removed the groups the data migration made


def test_a_file_with_good_and_bad_rows_is_scored_by_the_worker(worker, data_manager, active_version):
    rows = dev_records(3)
    text = csv_text([rows[0], {**rows[1], "TSH": 1200}, rows[2]])

    job = start_scoring_job(user=data_manager, uploaded_file=upload(text))
    job = wait_until_finished(ScoringJob, job.pk, worker)

    assert job.status == JobStatus.SUCCEEDED, job.message
    assert (job.accepted_rows, job.rejected_rows, job.scored_rows) == (2, 1, 2)
    assert job.rejected == [{"line": 3, "reason": "TSH 1200 mU/L is above the plausible maximum 1000 mU/L"}]
    assert job.model_version == active_version
    assert Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:").count() == 2
    assert [row["line"] for row in csv.DictReader(io.StringIO(result_csv_text(job)))] == ["2", "4"]


def test_a_job_whose_input_is_bad_ends_failed_with_a_message(worker, data_manager, active_version):
    celery_app.control.cancel_consumer("celery", destination=[worker.name], reply=True)
    try:
        job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(5)), "part.data"))
        for stored in (job.input_file.name, f"{job.input_file.name}.chunks.json"):
            job.input_file.storage.delete(stored)  # lost before the worker reads them
    finally:
        celery_app.control.add_consumer("celery", destination=[worker.name], reply=True)

    job = wait_until_finished(ScoringJob, job.pk, worker)

    assert job.status == JobStatus.FAILED and "no longer stored" in job.message
    assert not LabPanel.objects.filter(source=LabPanel.Source.CSV).exists()


def test_a_training_run_in_the_worker_ends_with_a_candidate_and_the_active_model_unchanged(
    worker, data_manager, active_version, web_media
):
    params = {"epochs": 3, "max_records": 600}
    run = start_training_run(user=data_manager, data_file="thyroid0387-dev.data", params=params)

    run = wait_until_finished(TrainingRun, run.pk, worker, timeout=240)

    assert run.status == JobStatus.SUCCEEDED, run.message
    assert [report["epoch"] for report in run.history if report.get("stage", "fit") == "fit"] == [1, 2, 3]
    assert run.progress == 1.0 and run.epoch >= 1
    assert run.val_macro_f1 is not None
    version = run.result_version
    assert version.status == "candidate" and version.metrics["holdout"]["baseline_version"] == active_version.version
    # tested by mlcore on exactly the fixed held-out rows that promotion compares on
    assert version.metrics["split"].startswith(SPLIT_DESCRIPTION)
    # rows without TSH are not assessed: n counts the assessed and referred ones
    assert version.metrics["n"] + version.metrics["n_not_assessed"] == version.metrics["holdout"]["rows"]
    assert ModelVersion.objects.get(status="active") == active_version
    # No shared disk: the model is in the database; this process (the web, its MEDIA_ROOT empty) loads it
    # into its own cache and scores with it.
    assert not any(web_media.iterdir())
    assert load_predictor(version).predict(dev_records(2), explain=False)[0].outcome
    assert (artefact_dir(version) / "model_card.md").exists() and artefact_dir(version).is_relative_to(web_media)


def test_a_failed_training_run_in_the_worker_leaves_the_active_model(worker, data_manager, active_version):
    run = start_training_run(user=data_manager)  # no labelled panels in the database

    run = wait_until_finished(TrainingRun, run.pk, worker)

    assert run.status == JobStatus.FAILED and "Not enough labelled panels" in run.message
    assert list(ModelVersion.objects.values_list("version", "status")) == [(active_version.version, "active")]
