"""Scoring a job in workers: claim it, split it into chunks, let every idle worker take chunks, finish it.

The job's task claims the job (services/jobs.py), makes a ScoringChunk row per chunk of accepted rows and
queues helper tasks, so that every idle worker joins in: each participant takes the next chunk nobody holds
(SELECT ... FOR UPDATE SKIP LOCKED), scores it by the one scoring path (services/intake.py), stores it
(``store`` mode) and writes its results part and preview in one transaction that also marks it done;
whoever commits the last chunk writes the results file and finishes the job. A row's panel is keyed by
(source=csv, source_ref="job<id>:line<n>") and its prediction by (panel, model version), so a chunk run
twice (a killed worker, a retry) adds nothing: every accepted row is scored exactly once. A job whose
workers are all lost is queued again by the healer and resumes with the chunks not done; each chunk
refreshes the job's heartbeat.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import socket
import uuid
from contextlib import contextmanager

from celery import current_app
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from diagnostics.models import JobStatus, LabPanel, Prediction, ScoringChunk, ScoringJob
from diagnostics.services.audit import record_event
from diagnostics.services.intake import score_panels, stored_result
from diagnostics.services.jobs import claim_job, fail_job, finish_job, is_transient
from diagnostics.services.registry import NoActiveModel, active_model_version, load_predictor
from diagnostics.services.scoring_jobs import chunks
from diagnostics.services.scoring_jobs.results import (
    RESULT_COLUMNS,
    chunk_preview,
    csv_line,
    merged_preview,
    result_rows,
)
from diagnostics.services.scoring_jobs.rows import JobRow
from diagnostics.services.scoring_jobs.store import store_chunk
from diagnostics.services.scoring_jobs.upload import UploadRejected, job_rows, read_upload

logger = logging.getLogger(__name__)

# Helper tasks queued per job at most (each one stays while chunks are left, so this bounds the workers).
MAX_HELPERS = 32
HELPER_TASK = "diagnostics.help_scoring_job"


class ScoringFailed(Exception):
    """The job cannot go on; the message is shown on the job."""


def process_scoring_job(*, job_id: int, task_id: str) -> None:
    """Claim a queued job (or resume it after a lost worker), split it into chunks, queue helpers for the
    other workers, and score chunks until none is left; the job ends succeeded or failed."""
    job = claim_job(ScoringJob, pk=job_id, task_id=task_id)
    if job is None:
        return
    with _failing_job(job):
        left = _prepare_chunks(job)
        # Sharing needs SKIP LOCKED (PostgreSQL); elsewhere the job's own worker scores every chunk.
        if left > 1 and connection.features.has_select_for_update_skip_locked:
            _queue_helpers(job, left - 1)
        _score_chunks(job)


def help_scoring_job(*, job_id: int) -> None:
    """A helper task: score the job's chunks that nobody holds, until none is left."""
    job = ScoringJob.objects.select_related("model_version").filter(pk=job_id, status=JobStatus.RUNNING).first()
    if job is None or job.model_version is None:
        return  # finished, failed, or gone
    with _failing_job(job):
        _score_chunks(job)


@contextmanager
def _failing_job(job: ScoringJob):
    """A job that cannot go on ends failed with a message (its working files deleted); a lost database
    connection is raised, for the task to retry."""
    try:
        yield
    except ScoringFailed as problem:
        fail_job(ScoringJob, pk=job.pk, message=str(problem))
        chunks.delete_working_files(job)
    except Exception as error:
        if is_transient(error):
            raise  # the task retries; the chunks already stored are kept
        # No message or traceback in the log: they can carry lab values or record numbers.
        logger.error("scoring job %s failed: %s", job.pk, type(error).__name__)
        fail_job(
            ScoringJob,
            pk=job.pk,
            message=f"Scoring stopped on an internal error ({type(error).__name__}); the rows scored so far are kept.",
        )
        chunks.delete_working_files(job)


def _read_upload_again(job: ScoringJob) -> tuple[bool, list[JobRow]]:
    try:
        with job.input_file.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, ValueError):
        raise ScoringFailed("The uploaded file is no longer stored; upload it again.") from None
    try:
        uci, result = read_upload(content)
    except UploadRejected as problem:
        raise ScoringFailed(f"The stored file cannot be read: {problem}") from None
    if not result.records:
        raise ScoringFailed(f"None of the {len(result.errors)} data rows in the file can be scored.")
    return uci, job_rows(result, uci=uci)


def _prepare_chunks(job: ScoringJob) -> int:
    """Fix the job's model version and split its rows into chunks (once); the number of chunks left."""
    if job.model_version_id is None:
        try:
            version = active_model_version()
        except (FileNotFoundError, NoActiveModel):  # nothing active and no model shipped in mlcore
            raise ScoringFailed("No model version is active; a data manager must activate one first.") from None
        ScoringJob.objects.filter(pk=job.pk).update(model_version=version)
        job.model_version = version
    if not job.chunks.exists():
        sizes = chunks.stored_chunk_sizes(job)
        if sizes is None:  # the chunk files are gone: read and check the uploaded file again
            uci, rows = _read_upload_again(job)
            sizes = chunks.save_chunks(job, uci, rows)
        ScoringChunk.objects.bulk_create(
            [ScoringChunk(job=job, index=index, rows=rows) for index, rows in enumerate(sizes)], ignore_conflicts=True
        )
    return job.chunks.filter(done_at__isnull=True).count()


def _queue_helpers(job: ScoringJob, count: int) -> None:
    """Ask other workers to join (in-process tasks have nobody to ask; an unreachable broker: we go alone)."""
    helper = current_app.tasks[HELPER_TASK]
    if helper.app.conf.task_always_eager:
        return
    try:
        for _ in range(min(count, MAX_HELPERS)):
            helper.apply_async(args=[job.pk])
    except Exception as error:  # noqa: BLE001 (the job goes on in this worker)
        logger.warning("scoring job %s: helpers not queued (%s)", job.pk, type(error).__name__)


def _score_chunks(job: ScoringJob) -> None:
    """Score chunks nobody holds until none is left; the participant that sees all done finishes the job."""
    predictor = load_predictor(job.model_version)
    while True:
        try:
            index = _score_next_chunk(job, predictor)
        except IntegrityError:  # the same patient created by another chunk at the same moment
            index = _score_next_chunk(job, predictor, careful=True)
        if index is None:
            break
    if not job.chunks.filter(done_at__isnull=True).exists():
        _finish(job)


def _chunk_rows(job: ScoringJob, index: int) -> tuple[bool, list[JobRow]]:
    try:
        return chunks.read_chunk(job, index)
    except chunks.ChunkMissing:
        raise ScoringFailed(f"Part {index + 1} of the job's rows is no longer stored; upload the file again.") from None


@transaction.atomic
def _score_next_chunk(job: ScoringJob, predictor, *, careful: bool = False) -> int | None:
    """Take the first chunk that is neither done nor held by another worker, and score (and store) it in
    this transaction (marked done with it); its index, or None when no chunk is left to take."""
    if not ScoringJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
        return None  # failed (or finished) meanwhile: nothing more to score
    chunk = (
        ScoringChunk.objects.select_for_update(skip_locked=True)
        .filter(job=job, done_at__isnull=True)
        .order_by("index")
        .first()
    )
    if chunk is None:
        return None
    uci, rows = _chunk_rows(job, chunk.index)
    results, _ = score_panels([row.panel for row in rows], version=job.model_version, predictor=predictor)
    created_patients = 0
    if job.mode == ScoringJob.Mode.STORE:
        created_patients = store_chunk(job, job.model_version, rows, results, uci=uci, careful=careful)
    chunks.overwrite(
        job.input_file.storage, chunks.part_name(job, chunk.index), result_rows(job.pk, rows, results).encode()
    )
    ScoringChunk.objects.filter(pk=chunk.pk).update(
        done_at=timezone.now(),
        done_by=f"{socket.gethostname()}/{os.getpid()}",
        created_patients=created_patients,
        preview=chunk_preview(job.pk, rows, results),
    )
    ScoringJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now(),
        scored_rows=F("scored_rows") + len(rows),
        progress=Cast(F("scored_rows") + len(rows), FloatField()) / float(max(1, job.accepted_rows)),
    )
    return chunk.index


def _finish(job: ScoringJob) -> None:
    """Write the results file from the chunks' parts and finish the job succeeded (once, whoever calls)."""
    with transaction.atomic():
        locked = ScoringJob.objects.select_for_update().filter(pk=job.pk, status=JobStatus.RUNNING).first()
        done = list(ScoringChunk.objects.filter(job=job).order_by("index"))
        if locked is None or not done or any(chunk.done_at is None for chunk in done):
            return
        out = io.BytesIO()
        out.write(csv_line(RESULT_COLUMNS).encode())
        for chunk in done:
            out.write(_checked_part(job, chunk))
        name = job.result_file.storage.save(
            f"scoring/results/job-{job.pk}-{uuid.uuid4().hex}.csv", ContentFile(out.getvalue())
        )
        rows = sum(chunk.rows for chunk in done)
        version = job.model_version
        finish_job(
            ScoringJob,
            pk=job.pk,
            scored_rows=rows,
            result_file=name,
            preview=merged_preview([chunk.preview for chunk in done]),
            message=f"{rows} rows scored with model {version.version}.",
        )
        record_event(
            action="scoring_job.finish",
            actor=job.created_by,
            obj=job,
            scored_rows=rows,
            created_patients=sum(chunk.created_patients for chunk in done),
            model_version=version.version,
        )
    chunks.delete_working_files(job)


def _checked_part(job: ScoringJob, chunk: ScoringChunk) -> bytes:
    """A chunk's results rows: its part file when it holds every row, else rebuilt from the stored
    predictions (a part lost or cut short by a crash after its chunk was committed)."""
    part = chunks.read_part(job, chunk.index)
    try:
        if part is not None and sum(1 for _ in csv.reader(io.StringIO(part.decode()))) == chunk.rows:
            return part
    except (UnicodeDecodeError, csv.Error):
        pass
    _, rows = _chunk_rows(job, chunk.index)
    refs = [row.source_ref(job.pk) for row in rows]
    stored = Prediction.objects.filter(
        model_version=job.model_version, panel__source=LabPanel.Source.CSV, panel__source_ref__in=refs
    ).select_related("panel")
    results = {prediction.panel.source_ref: stored_result(prediction) for prediction in stored}
    if len(results) != len(refs):
        raise ScoringFailed(f"Part {chunk.index + 1} of the results cannot be rebuilt; upload the file again.")
    return result_rows(job.pk, rows, [results[ref] for ref in refs]).encode()
