"""Batch scoring and training throughput through real Celery workers (Redis, PostgreSQL). Prints figures.

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... THYROWEB_DATA_DIR=... \\
        .venv/bin/python bench/batch.py [--rows 100000] [--skip-training] [--skip-two-workers]

1. Training run on the full dev data (thyroid0387-dev.data) in a worker: wall time, candidate metrics.
   If no model is active (and none ships with mlcore), the candidate is activated for the next steps.
2. One worker, one uploaded CSV of --rows panels (no record numbers: one new patient per row):
   upload validation time, the worker's scoring + storing time, end to end from upload to "succeeded".
3. The same file again with two workers: the job is split into chunks that both workers take
   (diagnostics/services/scoring_jobs/worker.py), so one job is scored by both; speed-up against step 2.

Rows are panels of the dev data repeated; everything the bench stored is deleted at the end.
Uses the database and broker of the environment: run it against a bench or development database.
"""

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from diagnostics.models import (  # noqa: E402
    JobStatus,
    LabPanel,
    ModelVersion,
    Patient,
    Prediction,
    ScoringChunk,
    ScoringJob,
    TrainingRun,
)
from diagnostics.services.registry import activate_model_version  # noqa: E402
from diagnostics.services.scoring_jobs import start_scoring_job  # noqa: E402
from diagnostics.services.training import start_training_run  # noqa: E402
from mlcore.data import read_uci  # noqa: E402
from mlcore.schema import INPUT_FIELDS  # noqa: E402
from tests.celery_worker import WorkerProcess  # noqa: E402
from thyroweb.celery import app as celery_app  # noqa: E402

DEV_FILE = "thyroid0387-dev.data"


def start_worker(name: str) -> WorkerProcess:
    """A `celery worker --pool solo` subprocess (the production ML worker setting), answering pings."""
    log_dir = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    worker = WorkerProcess(f"{name}-{uuid.uuid4().hex[:6]}@bench", log_dir / "worker.log")
    worker.wait_ready()
    return worker


def cpu_seconds(pids: list[int] | None = None, command: str | None = None) -> float:
    """User + system CPU seconds used so far by the given processes, or by every process with that command
    name (PostgreSQL's server processes when the database runs on this machine), read from /proc; the
    time of their children that ended (a closed connection's backend) is counted too."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pids is not None and int(entry.name) not in pids):
            continue
        try:
            name, _, rest = (entry / "stat").read_text().partition(") ")
        except OSError:
            continue
        if command is None or name.endswith(f"({command}"):
            fields = rest.split()
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / clock


def wait(model, pks: list[int], timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(model.objects.filter(pk__in=pks))
        if all(row.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) for row in rows):
            return rows
        time.sleep(0.05)
    raise SystemExit(f"{model.__name__} {pks} not finished after {timeout} s")


def panels_csv(records: list[dict], rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INPUT_FIELDS)
    for i in range(rows):
        record = records[i % len(records)]
        writer.writerow(
            [
                "" if record[f] is None else ("t" if record[f] is True else "f" if record[f] is False else record[f])
                for f in INPUT_FIELDS
            ]
        )
    return out.getvalue().encode()


def score_files(files: list[bytes]) -> tuple[float, list[ScoringJob], list[float]]:
    """Upload the files (validation in this process, as the web request does), wait for the jobs."""
    started = time.perf_counter()
    jobs, upload_seconds = [], []
    for content in files:
        t = time.perf_counter()
        jobs.append(start_scoring_job(user=None, uploaded_file=SimpleUploadedFile("bench.csv", content)))
        upload_seconds.append(time.perf_counter() - t)
    done = wait(ScoringJob, [job.pk for job in jobs], timeout=900)
    elapsed = time.perf_counter() - started
    for job in done:
        if job.status != JobStatus.SUCCEEDED:
            raise SystemExit(f"scoring job {job.pk} failed: {job.message}")
    return elapsed, done, upload_seconds


def chunk_shares(job: ScoringJob) -> list[dict]:
    return list(ScoringChunk.objects.filter(job=job).values("done_by").annotate(n=Count("id")).order_by("done_by"))


def cleanup(jobs: list[ScoringJob]) -> None:
    for job in jobs:
        prefix = f"job{job.pk}:"
        panels = LabPanel.objects.filter(source=LabPanel.Source.CSV, source_ref__startswith=prefix)
        patient_ids = list(panels.values_list("patient_id", flat=True).distinct())
        Prediction.objects.filter(panel__in=panels).delete()
        panels.delete()
        Patient.objects.filter(pk__in=patient_ids, record_number__startswith=f"JOB{job.pk}-").delete()
        for field in (job.input_file, job.result_file):
            if field:
                field.storage.delete(field.name)
        ScoringJob.objects.filter(pk=job.pk).delete()


def bench_training(worker: WorkerProcess) -> None:
    print("\n== Training run on the full dev data, one worker ==")
    run = start_training_run(user=None, data_file=DEV_FILE)
    (run,) = wait(TrainingRun, [run.pk], timeout=900)
    if run.status != JobStatus.SUCCEEDED:
        raise SystemExit(f"training failed: {run.message}")
    seconds = (run.finished_at - run.started_at).total_seconds()
    version = run.result_version
    holdout = version.metrics["holdout"]
    stages: dict[str, int] = {}
    for report in run.history:
        stages[report.get("stage", "fit")] = stages.get(report.get("stage", "fit"), 0) + 1
    print(
        f"training run: {seconds:.1f} s in the worker ({stages.get('fit', 0)} epochs early-stopped, "
        f"{stages.get('refit', 0)} epochs refit on train + validation; best validation macro-F1 "
        f"{max(h['val_macro_f1'] for h in run.history):.3f}); target <= 180 s"
    )
    print(
        f"candidate {version.version}: test-split macro-F1 {version.metrics.get('macro_f1', float('nan')):.3f}; "
        f"fixed held-out ({holdout['rows']} rows) macro-F1 {holdout['candidate']['macro_f1']:.3f}, "
        f"hyperthyroid recall {holdout['candidate']['recall_hyperthyroid']:.3f}"
    )
    if not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
        activate_model_version(version=version, user=None, override_reason="bench: no model was active")
        print(f"(no model was active: {version.version} activated for the scoring benches)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-two-workers", action="store_true")
    options = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")
    records = read_uci(Path(settings.THYROWEB_DATA_DIR) / DEV_FILE).records
    print(
        f"database {connection.settings_dict['NAME']}, chunk {settings.THYROWEB_SCORING_CHUNK_ROWS} rows, "
        f"{os.cpu_count()} CPUs"
    )

    celery_app.control.purge()
    first = start_worker("one")
    created: list[ScoringJob] = []
    try:
        if not options.skip_training:
            bench_training(first)

        print(f"\n== {options.rows:,} panels, one CSV upload, one worker ==")
        content = panels_csv(records, options.rows)
        before = cpu_seconds([first.process.pid]), cpu_seconds(command="postgres")
        elapsed, (job,), (upload_s,) = score_files([content])
        worker_cpu = cpu_seconds([first.process.pid]) - before[0]
        database_cpu = cpu_seconds(command="postgres") - before[1]
        created.append(job)
        in_worker = (job.finished_at - job.started_at).total_seconds()
        print(
            f"file {len(content) / 1e6:.1f} MB; upload validation {upload_s:.1f} s; worker (read, score, store, "
            f"results CSV) {in_worker:.1f} s = {job.scored_rows / in_worker:,.0f} rows/s"
        )
        print(
            f"end to end (upload to succeeded): {elapsed:.1f} s for {job.scored_rows:,} rows; target <= 30 s "
            "(goal 10 s)"
        )
        floor = (worker_cpu + database_cpu) / os.cpu_count()
        print(
            f"CPU: worker {worker_cpu:.1f} s, PostgreSQL {database_cpu:.1f} s: on {os.cpu_count()} CPUs no number "
            f"of workers can score this in less than {floor:.1f} s (best speed-up {in_worker / floor:.2f}x)"
        )

        if not options.skip_two_workers:
            print(f"\n== the same {options.rows:,} panels, one CSV upload, two workers ==")
            second = start_worker("two")
            pids = [first.process.pid, second.process.pid]
            try:
                before = cpu_seconds(pids), cpu_seconds(command="postgres")
                two_s, (two_job,), _ = score_files([content])
                two_cpu = cpu_seconds(pids) - before[0], cpu_seconds(command="postgres") - before[1]
                created.append(two_job)
            finally:
                second.stop()
            two_worker = (two_job.finished_at - two_job.started_at).total_seconds()
            print(
                f"worker time {in_worker:.1f} s -> {two_worker:.1f} s (speed-up {in_worker / two_worker:.2f}x); "
                f"end to end {elapsed:.1f} s -> {two_s:.1f} s ({elapsed / two_s:.2f}x); "
                f"{os.cpu_count()} CPUs shared by the workers, PostgreSQL and this process"
            )
            shares = ", ".join(f"{chunk['done_by']}: {chunk['n']}" for chunk in chunk_shares(two_job))
            print(f"CPU: workers {two_cpu[0]:.1f} s, PostgreSQL {two_cpu[1]:.1f} s; chunks per worker: {shares}")
    finally:
        first.stop()
        cleanup(created)


if __name__ == "__main__":
    main()
