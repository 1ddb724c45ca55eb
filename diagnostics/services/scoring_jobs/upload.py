"""Uploading a file to score: read and check it whole, keep its accepted rows in chunks, queue the job.

A CSV file (a header naming the columns; ``record_number`` and one lab column at least, a lab column may
name its unit: ``TT4[ug/dL]``) or a UCI thyroid0387-format file is read by mlcore's readers, which take
each row through the one intake (mlcore.intake.take_panel). Rows that cannot be scored are reported with
their line and reason; the file as a whole is refused (UploadRejected) when it cannot be read at all.
"""

from __future__ import annotations

import io
import os
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from diagnostics.access import known_user
from diagnostics.models import JobStatus, LabPanel, ScoringJob
from diagnostics.services.audit import record_event
from diagnostics.services.health import require_broker
from diagnostics.services.intake import record_number_problem
from diagnostics.services.jobs import JOB_TASKS, RequestRefused, enqueue
from diagnostics.services.scoring_jobs.chunks import save_chunks
from diagnostics.services.scoring_jobs.rows import JobRow, file_record_number
from diagnostics.services.uploads import read_within_limit
from mlcore.data import CSV_OPTIONAL_COLUMNS, ReadResult, RowError, read_csv, read_uci
from mlcore.schema import HISTORY_FLAGS, LAB_TESTS

# Rejected rows kept on the job for the report (the count is always complete).
MAX_REJECTED_REPORTED = 1000
# A scoring upload needs one lab column at least; age, sex, referral source and history flags may be left
# out (a flag left out is not recorded: false, as an empty cell).
SCORING_OPTIONAL_COLUMNS = (*CSV_OPTIONAL_COLUMNS, "age", "sex", "referral_source", *HISTORY_FLAGS, *LAB_TESTS)
_DIAGNOSIS_MAX = LabPanel._meta.get_field("diagnosis_raw").max_length


class UploadRejected(RequestRefused):
    """The uploaded file cannot be read at all (too large, empty, not text, bad header): no job is created."""


def _first_line(content: bytes) -> bytes:
    for line in content.split(b"\n", 50)[:50]:
        if line.strip():
            return line.strip().removeprefix(b"\xef\xbb\xbf")
    return b""


def _is_uci_format(first_line: bytes) -> bool:
    """thyroid0387 lines end with diagnosis[record id] and have no header."""
    return first_line.rstrip(b".").endswith(b"]") and b"[" in first_line


def _check_storable(result: ReadResult, *, uci: bool) -> None:
    """Move the records whose texts do not fit the database columns to the rejected rows."""
    kept = []
    for record in result.records:
        number = file_record_number(record, uci=uci)
        if number is not None and (problem := record_number_problem(number)):
            result.errors.append(RowError(record["line"], problem))
        elif record.get("diagnosis") and len(record["diagnosis"]) > _DIAGNOSIS_MAX:
            result.errors.append(RowError(record["line"], f"diagnosis is longer than {_DIAGNOSIS_MAX} characters"))
        else:
            kept.append(record)
    result.records = kept
    result.errors.sort(key=lambda error: error.line)


def read_upload(content: bytes) -> tuple[bool, ReadResult]:
    """(is UCI format, rows read) of an uploaded file; UploadRejected when the file as a whole is unreadable.
    A row without any lab value is rejected: there is nothing to score."""
    if not content.strip():
        raise UploadRejected("The file is empty.")
    first = _first_line(content)
    uci = _is_uci_format(first)
    if uci:
        result = read_uci(io.BytesIO(content), require_lab=True)
    else:
        try:
            first.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRejected("The file is not UTF-8 text (save it as CSV UTF-8).") from None
        result = read_csv(io.BytesIO(content), optional=SCORING_OPTIONAL_COLUMNS, require_lab=True)
        header_problems = [error.reason for error in result.errors if error.line == 1]
        if header_problems:
            raise UploadRejected(f"Line 1 (header): {'; '.join(header_problems)}.")
    _check_storable(result, uci=uci)
    if not result.records and not result.errors:
        raise UploadRejected("The file has no data rows.")
    return uci, result


def job_rows(result: ReadResult, *, uci: bool) -> list[JobRow]:
    return [JobRow.from_record(record, uci=uci) for record in result.records]


def start_scoring_job(*, user, request=None, uploaded_file, mode: str = ScoringJob.Mode.STORE) -> ScoringJob:
    """Read and check an uploaded CSV or UCI-format file, store it, and queue a job that scores its accepted
    rows: ``mode`` score_only keeps the results with the job only; store also stores each row as a panel of
    its patient (found by record number, else created) with its prediction.

    Raises UploadRejected when the file cannot be read at all, BrokerUnavailable when no worker could be
    reached. Rejected rows are reported on the job with their line numbers; a file with no acceptable row
    gives a job that is already ``failed``.
    """
    if mode not in ScoringJob.Mode.values:
        raise UploadRejected(f"mode must be one of {', '.join(ScoringJob.Mode.values)}.")
    limit = settings.THYROWEB_MAX_UPLOAD_BYTES
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > limit:
        raise UploadRejected(f"The file is {size} bytes; the limit is {limit} bytes.")
    require_broker()  # refused now rather than "queued", then failed
    content = read_within_limit(uploaded_file)
    if content is None:
        raise UploadRejected(f"The file is larger than the limit of {limit} bytes.")
    uci, result = read_upload(content)
    accepted, rejected = len(result.records), len(result.errors)
    job = ScoringJob(
        original_name=os.path.basename(getattr(uploaded_file, "name", "") or "")[:255],
        mode=mode,
        total_rows=accepted + rejected,
        accepted_rows=accepted,
        rejected_rows=rejected,
        rejected=[{"line": e.line, "reason": e.reason} for e in result.errors[:MAX_REJECTED_REPORTED]],
        created_by=known_user(user),
        celery_task_id=str(uuid.uuid4()),
    )
    if not accepted:
        job.status = JobStatus.FAILED
        job.finished_at = timezone.now()
        job.message = f"None of the {rejected} data rows can be scored; see the rejected rows."
    with transaction.atomic():
        job.input_file.save(f"job-{uuid.uuid4().hex}.{'data' if uci else 'csv'}", ContentFile(content), save=False)
        if accepted:
            save_chunks(job, uci, job_rows(result, uci=uci))
        job.save()
        record_event(
            action="scoring_job.create",
            actor=user,
            request=request,
            obj=job,
            accepted_rows=accepted,
            rejected_rows=rejected,
            mode=mode,
        )
        if job.status == JobStatus.QUEUED:
            transaction.on_commit(lambda: enqueue(JOB_TASKS[ScoringJob], ScoringJob, job))
    return job
