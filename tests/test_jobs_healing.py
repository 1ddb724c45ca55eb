"""Jobs that heal (services): heartbeats, attempts, the healer's rules and its schedule; files and trained
models kept in the database, so that no process needs another one's disk. tests/test_faults_jobs.py shows
the same on real workers, beat, Redis and PostgreSQL."""

import io
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from diagnostics.models import JobStatus, ModelVersion, ScoringJob, StoredFile, TrainingRun
from diagnostics.services.jobs import (
    HEAL_TASK_NAME,
    claim_job,
    fail_job,
    heal_lost_jobs,
    heartbeat,
    recovery_message,
)
from diagnostics.services.registry import artefact_dir, load_predictor, store_artefact
from tests.job_builders import dev_records

pytestmark = pytest.mark.django_db


def make_run(**fields) -> TrainingRun:
    return TrainingRun.objects.create(**{"celery_task_id": "task-1", **fields})


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def heal(django_capture_on_commit_callbacks) -> tuple[list, list]:
    """Run the healer; (what it did, the enqueue callbacks it left for after the commit, not run here)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        healed = heal_lost_jobs()
    return healed, callbacks


def test_a_claim_counts_an_attempt_and_beats():
    run = make_run()
    claimed = claim_job(TrainingRun, pk=run.pk, task_id="task-1")
    assert claimed.status == JobStatus.RUNNING and claimed.attempts == 1 and claimed.heartbeat_at is not None
    assert claim_job(TrainingRun, pk=run.pk, task_id="another") is None  # another task: refused
    assert claim_job(TrainingRun, pk=run.pk, task_id="task-1").attempts == 1  # redelivered: resumed, not counted


def test_a_running_job_with_a_stale_heartbeat_is_queued_again_with_a_new_task(django_capture_on_commit_callbacks):
    run = make_run(status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(61), started_at=ago(300))
    alive = make_run(status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(5), started_at=ago(300))

    healed, callbacks = heal(django_capture_on_commit_callbacks)

    assert healed == [("TrainingRun", run.pk, "queued again")] and len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == JobStatus.QUEUED and run.celery_task_id not in ("", "task-1")
    assert [(entry["reason"], entry["attempt"]) for entry in run.recoveries] == [("worker_lost", 2)]
    assert recovery_message(run.recoveries[0]).startswith("Worker lost at ")
    assert recovery_message(run.recoveries[0]).endswith(", resumed (attempt 2).")
    alive.refresh_from_db()
    assert alive.status == JobStatus.RUNNING and alive.recoveries == []


def test_a_running_job_that_never_beat_is_judged_by_its_start(django_capture_on_commit_callbacks):
    job = ScoringJob.objects.create(status=JobStatus.RUNNING, attempts=1, started_at=ago(120), celery_task_id="t")

    healed, _ = heal(django_capture_on_commit_callbacks)

    assert healed == [("ScoringJob", job.pk, "queued again")]


def test_a_job_whose_worker_is_lost_too_often_fails_with_a_clear_message(settings, django_capture_on_commit_callbacks):
    settings.THYROWEB_JOB_MAX_ATTEMPTS = 3
    run = make_run(status=JobStatus.RUNNING, attempts=3, heartbeat_at=ago(61), started_at=ago(300))

    healed, callbacks = heal(django_capture_on_commit_callbacks)

    run.refresh_from_db()
    assert healed == [("TrainingRun", run.pk, "failed")] and callbacks == []
    assert run.status == JobStatus.FAILED and run.finished_at is not None
    assert run.message.startswith("The job was stopped: its worker was lost 3 times")
    assert run.recoveries[-1]["reason"] == "gave_up"
    assert "after 3 attempts: the job was stopped" in recovery_message(run.recoveries[-1])


def test_finished_jobs_are_never_touched(django_capture_on_commit_callbacks):
    make_run(status=JobStatus.SUCCEEDED, heartbeat_at=ago(3600))
    make_run(status=JobStatus.FAILED, heartbeat_at=ago(3600))

    assert heal(django_capture_on_commit_callbacks) == ([], [])


def test_a_queued_job_is_queued_again_only_when_the_broker_lost_its_task(settings, django_capture_on_commit_callbacks):
    if not settings.CELERY_BROKER_URL:
        pytest.skip("no broker: nothing can lose a queued task")
    from thyroweb.celery import app as celery_app

    celery_app.control.purge()
    waiting = make_run(celery_task_id="still-in-the-broker")
    celery_app.tasks["diagnostics.run_training"].apply_async(args=[waiting.pk], task_id="still-in-the-broker")
    lost = make_run(celery_task_id="lost-with-redis")
    young = make_run(celery_task_id="just-queued")
    TrainingRun.objects.filter(pk__in=[waiting.pk, lost.pk]).update(created_at=ago(120))
    try:
        healed, _ = heal(django_capture_on_commit_callbacks)
    finally:
        celery_app.control.purge()

    assert healed == [("TrainingRun", lost.pk, "queued again")]  # young: still within its grace period
    lost.refresh_from_db()
    assert [entry["reason"] for entry in lost.recoveries] == ["lost_from_broker"]
    assert recovery_message(lost.recoveries[0]).startswith("Queued task lost by the broker at ")
    assert TrainingRun.objects.get(pk=young.pk).recoveries == []


# The thread writes through its own connection, so the row must be committed. Plain (not serialized)
# rollback, like the other worker tests: a serialized test set up after a plain flush finds the content
# types already made again and fails (the serialized tests, tests/browser and test_backup.py, run first).
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_the_work_runs_and_stops_with_it(settings):
    settings.THYROWEB_JOB_HEARTBEAT_SECONDS = 0.2
    run = make_run(status=JobStatus.RUNNING, heartbeat_at=ago(600))

    with heartbeat(TrainingRun, run.pk):
        time.sleep(1)
        during = TrainingRun.objects.get(pk=run.pk).heartbeat_at
    time.sleep(0.5)
    after = TrainingRun.objects.get(pk=run.pk).heartbeat_at

    assert during > ago(1) and after == TrainingRun.objects.get(pk=run.pk).heartbeat_at
    fail_job(TrainingRun, pk=run.pk, message="done")


def test_the_healer_is_scheduled_by_the_migration_and_set_up_keeps_its_interval(settings):
    task = PeriodicTask.objects.get(name=HEAL_TASK_NAME)
    assert task.task == "diagnostics.heal_jobs" and task.enabled and task.interval.every == 30

    settings.THYROWEB_JOB_HEAL_SECONDS = 7
    call_command("setup_thyroweb", "--no-demo-users", stdout=io.StringIO())

    task = PeriodicTask.objects.get(name=HEAL_TASK_NAME)
    assert (task.interval.every, task.interval.period, task.expire_seconds) == (7, "seconds", 7)


def test_the_job_pages_and_the_api_show_the_attempts_and_recoveries(client_for, data_manager):
    entry = {"at": "2026-11-29T10:15:00+00:00", "reason": "worker_lost", "attempt": 2}
    run = make_run(status=JobStatus.RUNNING, attempts=2, recoveries=[entry])
    job = ScoringJob.objects.create(status=JobStatus.QUEUED, recoveries=[{**entry, "reason": "lost_from_broker"}])
    client = client_for(data_manager)

    api = client.get(reverse("api-training-run", args=[run.pk])).json()
    assert api["attempts"] == 2 and api["recoveries"] == [
        {**entry, "at": "2026-11-29T11:15:00+01:00", "message": recovery_message(entry)}
    ]
    page = client.get(reverse("training_detail", args=[run.pk])).content.decode()
    assert "Worker lost at " in page and "resumed (attempt 2)." in page and "Started 2 times." in page
    page = client.get(reverse("scoring_detail", args=[job.pk])).content.decode()
    assert "Queued task lost by the broker at " in page
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    page = client.get(reverse("training_detail", args=[run.pk])).content.decode()
    assert "Processus de travail perdu le " in page and "travail repris (tentative 2)." in page


# --- Files in the database: no process needs another's disk ---


def test_stored_files_live_in_the_database_not_on_disk(media_root):
    name = default_storage.save("scoring/input/a.csv", ContentFile(b"age,sex\n41,F\n"))

    assert StoredFile.objects.get(name=name).size == 13 and not any(media_root.iterdir())
    with default_storage.open(name) as handle:
        assert handle.read() == b"age,sex\n41,F\n"
    assert default_storage.listdir("scoring") == (["input"], [])
    assert default_storage.listdir("scoring/input") == ([], ["a.csv"])
    default_storage.delete(name)
    assert not default_storage.exists(name) and not StoredFile.objects.exists()


def test_a_file_saved_on_disk_before_the_database_storage_is_still_read(media_root):
    (media_root / "scoring" / "input").mkdir(parents=True)
    (media_root / "scoring" / "input" / "old.csv").write_bytes(b"old")

    with default_storage.open("scoring/input/old.csv") as handle:
        assert handle.read() == b"old"


def test_a_process_with_an_empty_media_root_serves_a_model_trained_elsewhere(
    media_root, small_model_dir, settings, tmp_path
):
    stored = store_artefact(small_model_dir, "models/x")
    version = ModelVersion.objects.create(version="elsewhere", artefact_path=stored)
    settings.MEDIA_ROOT = tmp_path / "another-machine"  # nothing on this disk

    predictor = load_predictor(version)

    assert predictor.predict(dev_records(1), explain=False)[0].outcome
    assert artefact_dir(version) == settings.MEDIA_ROOT / "models" / "x"
    assert sorted(p.name for p in artefact_dir(version).iterdir()) == sorted(p.name for p in small_model_dir.iterdir())


def test_a_model_archive_with_a_path_outside_its_folder_is_refused(media_root):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    default_storage.save("models/evil.tar.gz", ContentFile(out.getvalue()))
    version = ModelVersion.objects.create(version="evil", artefact_path="models/evil")

    with pytest.raises(ValueError, match="unexpected member"):
        artefact_dir(version)
    assert not (media_root / "models" / "escaped.txt").exists() and not Path(media_root / "escaped.txt").exists()
