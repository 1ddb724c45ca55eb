"""Faults in the job tier, on real processes (Celery workers and beat, Redis, PostgreSQL): a worker SIGKILLed
during training or during a job of one chunk, Redis losing its data while jobs wait, and the database
refusing connections in the middle of a job. Each test asserts no loss, no duplicate, a clear status on
the job (its attempts and recoveries, in the API and on its page) and recovery within the target.

The healer runs as in production (celery beat with the database schedule created by migration 0005,
a worker running diagnostics.heal_jobs) with short timings so the suite stays fast: heartbeat every 1 s,
stale after 4 s, healed every 1 s. The visibility timeout keeps its default of an hour: only the healer
can bring a killed worker's job back within the test. FAULT_TIMINGS=default runs with the production
timings instead (a job must then resume within 2 minutes of a worker being available).
"""

import os
import time

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from diagnostics.access import DATA_MANAGER
from diagnostics.models import JobStatus, LabPanel, ModelVersion, Prediction, ScoringJob, TrainingRun
from diagnostics.roles import ensure_groups
from diagnostics.services.jobs import ensure_heal_schedule
from diagnostics.services.scoring_jobs import result_csv_text, start_scoring_job
from diagnostics.services.training import start_training_run
from tests.celery_worker import run_beat, run_worker, worker_support_missing
from tests.conftest import make_user
from tests.job_builders import dev_lines, scorable_dev_lines, upload
from thyroweb.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEFAULT_TIMINGS = os.environ.get("FAULT_TIMINGS") == "default"
FAST = {
    "THYROWEB_JOB_HEARTBEAT_SECONDS": "1",
    "THYROWEB_JOB_STALE_SECONDS": "4",
    "THYROWEB_JOB_HEAL_SECONDS": "1",
    "THYROWEB_JOB_QUEUED_GRACE_SECONDS": "3",
}
TIMINGS = {} if DEFAULT_TIMINGS else FAST
# The target with the default settings; the fast settings must meet it with a wide margin.
RESUME_TARGET = 120 if DEFAULT_TIMINGS else 30


def report(text: str) -> None:
    print(f"\nFAULT {text}")  # the figures of the closing note (pytest -s shows them)


def wait_for(predicate, timeout: float, what: str, *logs):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached after {timeout} s\n" + "\n".join(log.log() for log in logs))


@pytest.fixture
def healer(settings):
    """celery beat sending diagnostics.heal_jobs from the schedule in the database."""
    reason = worker_support_missing()
    if reason:
        pytest.skip(reason)
    for name, value in TIMINGS.items():
        setattr(settings, name, int(value))
    ensure_groups()  # a transactional test's flush removed what the data migrations made
    ensure_heal_schedule()
    celery_app.control.purge()
    with run_beat(env=TIMINGS) as beat:
        yield beat


def status_of(model, pk: int) -> str:
    return model.objects.filter(pk=pk).values_list("status", flat=True).get()


def shown_to_a_data_manager(client, kind: str, pk: int) -> tuple[dict, str]:
    """(the API's view of the job, its page) as a data manager sees them."""
    client.force_login(make_user(get_user_model(), f"dm-{kind}-{pk}", DATA_MANAGER))
    api = {"training": "api-training-run", "scoring": "api-scoring-job"}[kind]
    page = {"training": "training_detail", "scoring": "scoring_detail"}[kind]
    return client.get(reverse(api, args=[pk])).json(), client.get(reverse(page, args=[pk])).content.decode()


def assert_every_row_scored_once(job: ScoringJob, rows: int) -> None:
    refs = LabPanel.objects.filter(source=LabPanel.Source.CSV, source_ref__startswith=f"job{job.pk}:")
    expected = sorted(f"job{job.pk}:line{n}" for n in range(1, rows + 1))
    assert sorted(refs.values_list("source_ref", flat=True)) == expected
    predictions = Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:")
    assert predictions.count() == rows and predictions.values("panel").distinct().count() == rows
    assert job.scored_rows == rows and len(result_csv_text(job).splitlines()) == rows + 1


def test_a_training_run_whose_worker_is_killed_is_resumed_by_the_healer(healer, media_root, active_version, client):
    with run_worker(env=TIMINGS) as first:
        run = start_training_run(user=None, data_file="thyroid0387-dev.data", params={"epochs": 3, "max_records": 300})
        wait_for(lambda: TrainingRun.objects.get(pk=run.pk).epoch >= 1, 120, "epoch 1", first)
        first.kill()
    killed = time.monotonic()
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING and run.attempts == 1

    available = time.monotonic()  # from the second worker's start (it takes work before it answers pings)
    with run_worker(env=TIMINGS) as second:
        wait_for(lambda: TrainingRun.objects.get(pk=run.pk).attempts == 2, RESUME_TARGET, "resumed", second, healer)
        resumed = time.monotonic()
        wait_for(lambda: status_of(TrainingRun, run.pk) != JobStatus.RUNNING, 180, "finished", second)
        finished = time.monotonic()
        assert second.process.poll() is None

    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.message
    assert [entry["reason"] for entry in run.recoveries] == ["worker_lost"] and run.attempts == 2
    assert [report["epoch"] for report in run.history if report.get("stage", "fit") == "fit"] == [1, 2, 3]
    assert ModelVersion.objects.get(status="active") == active_version
    assert run.result_version.status == "candidate"
    api, page = shown_to_a_data_manager(client, "training", run.pk)
    assert api["attempts"] == 2 and api["recoveries"][0]["reason"] == "worker_lost"
    message = api["recoveries"][0]["message"]
    assert message.startswith("Worker lost at ") and "resumed (attempt 2)" in message
    assert "Worker lost at " in page and "resumed (attempt 2)" in page
    report(
        f"SIGKILL during training: resumed {resumed - available:.1f} s after a worker was available "
        f"({resumed - killed:.1f} s after the kill), succeeded {finished - available:.1f} s after"
    )


def test_a_one_chunk_job_whose_worker_is_killed_scores_every_row_exactly_once(
    healer, media_root, active_version, client, settings
):
    rows = 4000
    settings.THYROWEB_SCORING_CHUNK_ROWS = 5000  # one chunk
    with run_worker(env=TIMINGS) as first:
        job = start_scoring_job(user=None, uploaded_file=upload("\n".join(scorable_dev_lines(rows)), "one-chunk.data"))
        wait_for(lambda: status_of(ScoringJob, job.pk) == JobStatus.RUNNING, 60, "running", first)
        first.kill()
    killed = time.monotonic()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.scored_rows == 0 and job.chunks.count() <= 1

    available = time.monotonic()
    with run_worker(env=TIMINGS) as second:
        wait_for(lambda: status_of(ScoringJob, job.pk) == JobStatus.SUCCEEDED, RESUME_TARGET, "succeeded", second)
        finished = time.monotonic()

    job.refresh_from_db()
    assert_every_row_scored_once(job, rows)
    assert job.attempts == 2 and [entry["reason"] for entry in job.recoveries] == ["worker_lost"]
    api, page = shown_to_a_data_manager(client, "scoring", job.pk)
    assert api["attempts"] == 2 and "resumed (attempt 2)" in api["recoveries"][0]["message"]
    assert "Worker lost at " in page
    report(
        f"SIGKILL during a one-chunk job ({rows} rows): succeeded {finished - available:.1f} s after a worker "
        f"was available ({finished - killed:.1f} s after the kill), every row scored once"
    )


def broker() -> redis.Redis:
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL)


def restart_redis_losing_our_data() -> None:
    """What a Redis restart without persistence does to our database number: its data gone and its clients
    disconnected (FLUSHDB and CLIENT KILL on our database only: other databases of the server are left alone)."""
    client = broker()
    database = client.connection_pool.connection_kwargs.get("db", 0)
    client.flushdb()
    me = client.client_id()
    for peer in client.client_list():
        if int(peer["db"]) == database and int(peer["id"]) != me:
            client.client_kill_filter(_id=peer["id"])


def test_jobs_queued_when_redis_loses_its_data_are_queued_again_and_finish(healer, media_root, active_version):
    rows = 300
    jobs = [
        start_scoring_job(user=None, uploaded_file=upload("\n".join(dev_lines(rows, start)), f"q{start}.data"))
        for start in (0, rows)
    ]
    assert broker().llen("celery") >= 2  # waiting for a worker
    restart_redis_losing_our_data()
    assert broker().llen("celery") == 0

    started = time.monotonic()
    with run_worker(env=TIMINGS) as worker:
        for job in jobs:
            wait_for(lambda job=job: status_of(ScoringJob, job.pk) == JobStatus.SUCCEEDED, 90, "job", worker, healer)
        finished = time.monotonic()

        restart_redis_losing_our_data()  # again, with the worker waiting for work: it reconnects
        late = start_scoring_job(user=None, uploaded_file=upload("\n".join(dev_lines(rows, 2 * rows)), "late.data"))
        wait_for(lambda: status_of(ScoringJob, late.pk) == JobStatus.SUCCEEDED, 60, "late job", worker)
        assert worker.process.poll() is None

    for job in jobs:
        job.refresh_from_db()
        assert_every_row_scored_once(job, rows)
        assert [entry["reason"] for entry in job.recoveries] == ["lost_from_broker"] and job.attempts == 1
    late.refresh_from_db()
    assert late.recoveries == [] and late.attempts == 1
    report(
        f"Redis lost its data with 2 jobs queued: queued again and both finished {finished - started:.1f} s "
        "after a worker was started; a second Redis restart left the worker running and taking jobs"
    )


def refuse_database_connections(seconds: float) -> None:
    """A database restart as the workers see it: every connection to the test database cut, and new ones
    refused for a few seconds."""
    name = connection.settings_dict["NAME"]
    db = connection.settings_dict
    admin = psycopg.connect(
        host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432, user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    )  # fmt: skip
    with admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            time.sleep(seconds)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    connection.close()  # this test's own connection was cut too


def test_a_database_outage_during_a_job_leaves_the_worker_running_and_the_job_finishes(
    healer, media_root, active_version, settings
):
    rows = 4000
    settings.THYROWEB_SCORING_CHUNK_ROWS = 200
    with run_worker(env=TIMINGS) as worker:
        job = start_scoring_job(user=None, uploaded_file=upload("\n".join(scorable_dev_lines(rows)), "outage.data"))
        wait_for(lambda: ScoringJob.objects.get(pk=job.pk).scored_rows > 0, 60, "first chunk", worker)
        refuse_database_connections(3)
        back = time.monotonic()
        assert worker.process.poll() is None, worker.log()
        wait_for(lambda: status_of(ScoringJob, job.pk) == JobStatus.SUCCEEDED, 90, "succeeded", worker, healer)
        finished = time.monotonic()
        assert worker.process.poll() is None, worker.log()  # the worker lived through it
        assert celery_app.control.ping(destination=[worker.name], timeout=2)
        assert healer.process.poll() is None, healer.log()  # beat lived through it too

    job.refresh_from_db()
    assert_every_row_scored_once(job, rows)
    report(f"database refused connections for 3 s during a job: worker alive, succeeded {finished - back:.1f} s later")
