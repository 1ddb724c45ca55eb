"""Training runs (services): validated start, a candidate version at the end, the active model never touched,
and the periodic retrain schedule. tests/test_jobs_worker.py runs a training run through a real worker."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from diagnostics.models import AuditEvent, JobStatus, ModelVersion, TrainingRun
from diagnostics.services.registry import artefact_dir
from diagnostics.services.training import (
    TrainingRejected,
    process_training_run,
    start_periodic_retrain,
    start_training_run,
)
from mlcore.holdout import SPLIT_DESCRIPTION
from tests.job_builders import dev_lines, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": 1}, "Unknown parameter 'learning_rate'"),
        ({"epochs": 0}, "epochs 0 is outside 1-1000"),
        ({"epochs": "many"}, "epochs 'many' is not a whole number"),
        ({"epochs": 2.5}, "epochs 2.5 is not a whole number"),
        ({"max_records": 5}, "max_records 5 is outside"),
    ],
)
def test_bad_parameters_are_refused_before_a_run_exists(data_manager, params, message):
    with pytest.raises(TrainingRejected, match=message):
        start_training_run(user=data_manager, params=params)
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("data_file", ["/etc/passwd", "../../etc/passwd", "no-such-file.data"])
def test_a_data_file_outside_the_data_folder_or_missing_is_refused(data_manager, settings, tmp_path, data_file):
    settings.THYROWEB_DATA_DIR = tmp_path
    with pytest.raises(TrainingRejected, match="data f"):
        start_training_run(user=data_manager, data_file=data_file)
    assert not TrainingRun.objects.exists()


def test_only_a_data_manager_can_start_a_run(clinician):
    with pytest.raises(PermissionDenied):
        start_training_run(user=clinician)
    assert not TrainingRun.objects.exists()


def test_a_run_is_queued_with_its_parameters_and_audited(data_manager, dev_data_file):
    run = start_training_run(user=data_manager, data_file="thyroid0387-dev.data", params={"epochs": "3", "seed": 1})

    assert (run.status, run.params, run.epochs) == (JobStatus.QUEUED, {"epochs": 3, "seed": 1}, 3)
    assert run.started_by == data_manager
    assert run.data_file.endswith("thyroid0387-dev.data") and run.celery_task_id
    event = AuditEvent.objects.get(action="training_run.start")
    assert event.details["data_file"] == "thyroid0387-dev.data" and event.actor == data_manager


def test_an_uploaded_uci_file_is_kept_for_the_run(data_manager, media_root):
    run = start_training_run(user=data_manager, data_file=upload("\n".join(dev_lines(50)), "extra.data"))

    assert run.data_file.startswith("training/upload-")  # a name in the file storage (the database)
    assert not any(media_root.iterdir())
    with default_storage.open(run.data_file, "rb") as handle:
        assert len(handle.read().splitlines()) == 50


def test_an_uploaded_file_that_is_not_uci_format_is_refused(data_manager):
    with pytest.raises(TrainingRejected, match="no readable UCI thyroid0387-format rows .line 1:"):
        start_training_run(user=data_manager, data_file=upload("age,sex\n41,F\n", "extra.data"))


def test_a_run_without_enough_labelled_panels_fails_and_leaves_the_active_model(active_version, data_manager):
    run = start_training_run(user=data_manager)

    process_training_run(run_id=run.pk, task_id=run.celery_task_id)

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "Not enough labelled panels" in run.message
    assert run.finished_at is not None and run.result_version is None
    assert list(ModelVersion.objects.values_list("version", "status")) == [(active_version.version, "active")]


@pytest.mark.slow
def test_a_training_run_in_the_embedded_default_ends_with_a_candidate(
    active_version, data_manager, settings, media_root, django_capture_on_commit_callbacks, dev_data_file
):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("a broker is configured: tests/test_jobs_worker.py trains through a real worker")
    with django_capture_on_commit_callbacks(execute=True):
        run = start_training_run(
            user=data_manager, data_file="thyroid0387-dev.data", params={"epochs": 3, "max_records": 600}
        )

    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.message
    assert [report["epoch"] for report in run.history if report.get("stage", "fit") == "fit"] == [1, 2, 3]
    assert run.progress == 1.0 and run.epoch >= 1
    version = run.result_version
    assert version.status == "candidate" and version.trained_by == data_manager
    assert not (media_root / version.artefact_path).exists()  # stored in the database, not on this disk
    assert (artefact_dir(version) / "metadata.json").exists()  # unpacked into the local cache on first use
    assert version.metrics["holdout"]["baseline_version"] == active_version.version
    assert version.metrics["holdout"]["rows"] > 50 and "macro_f1" in version.metrics
    # mlcore got every row with its key: it tested on exactly the held-out rows promotion compares on,
    # and trained on all the others
    assert version.metrics["split"].startswith(SPLIT_DESCRIPTION)
    # rows without TSH are not assessed: n counts the assessed and referred ones
    assert version.metrics["n"] + version.metrics["n_not_assessed"] == version.metrics["holdout"]["rows"]
    assert version.metrics["macro_f1"] == version.metrics["holdout"]["candidate"]["macro_f1"]
    rows = json.loads((artefact_dir(version) / "metadata.json").read_text())["training_rows"]
    assert rows["test"] == version.metrics["holdout"]["candidate"]["support"]
    trained_on = rows["train"]  # mlcore's networks each hold out their own validation rows from these
    assert trained_on == version.metrics["training_counts"]
    assert version.model_card
    assert ModelVersion.objects.get(status="active") == active_version


def test_the_periodic_retrain_schedule_is_created_disabled_and_can_be_enabled():
    call_command("schedule_retrain")
    task = PeriodicTask.objects.get(task="diagnostics.periodic_retrain")
    assert task.enabled is False and task.crontab.hour == "3"

    call_command("schedule_retrain", "--enable", "--cron", "15 2 * * 1")
    task.refresh_from_db()
    assert task.enabled is True and (task.crontab.minute, task.crontab.day_of_week) == ("15", "1")
    assert PeriodicTask.objects.filter(task="diagnostics.periodic_retrain").count() == 1


def test_the_periodic_retrain_queues_a_run_unless_one_is_pending():
    first = start_periodic_retrain()
    assert first is not None and first.started_by is None
    assert start_periodic_retrain() is None
    assert TrainingRun.objects.count() == 1
