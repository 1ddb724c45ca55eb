"""Batch scoring of uploaded files: the upload is validated first, then workers score the accepted rows.

The job's task splits the accepted rows into chunks (a ScoringChunk row and a stored file each: files are
kept in the database by default, diagnostics/storage.py, so workers need no shared disk) and queues
helper tasks, so that every idle worker joins in: each participant takes the next chunk nobody holds
(SELECT ... FOR UPDATE SKIP LOCKED) and stores and scores it in one transaction that also marks it
done; whoever commits the last chunk writes the results file and closes the job. A row's panel is
keyed by (source=csv, source_ref="job<id>:line<n>") and its prediction by (panel, model version), so
a chunk run twice (a killed worker, a retry) adds nothing: every accepted row is scored exactly once.
A job whose workers are all lost is queued again by the healer (services/jobs.py) and resumes with the
chunks not done; each chunk refreshes the job's heartbeat.
"""

import csv
import io
import json
import logging
import os
import socket
import uuid
from contextlib import contextmanager
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from diagnostics.csv_safety import safe_cell
from diagnostics.models import JobStatus, LabPanel, Patient, Prediction, ScoringChunk, ScoringJob
from diagnostics.services.audit import record_event
from diagnostics.services.bulk import copy_rows
from diagnostics.services.imports import UCI_PREFIX, collected_at_from_record_id
from diagnostics.services.jobs import JOB_TASKS, RequestRefused, claim_job, enqueue, fail_job, is_transient
from diagnostics.services.panels import PANEL_VALUE_FIELDS
from diagnostics.services.registry import active_model_version, load_predictor
from diagnostics.services.uploads import read_within_limit
from mlcore import units
from mlcore.data import CSV_OPTIONAL_COLUMNS, ReadResult, RowError, read_csv, read_uci
from mlcore.rules import OUTCOMES
from mlcore.schema import CLASSES, HISTORY_FLAGS, INPUT_FIELDS, LAB_TESTS, InputError, check_has_lab_value

logger = logging.getLogger(__name__)

# Rejected rows kept on the job for the report (the count is always complete).
MAX_REJECTED_REPORTED = 1000
RESULT_COLUMNS = (
    "line",
    "record_number",
    *INPUT_FIELDS,
    "diagnosis",
    "collected_at",
    "predicted_class",
    *(f"p_{name}" for name in CLASSES),
    "uncertain",
    "outcome",
    "reasons",
    "warnings",
    "pattern",
)
# A scoring upload needs one lab column at least; age, sex, referral source and history flags may be left
# out (a flag left out is not recorded: false, as an empty cell).
SCORING_OPTIONAL_COLUMNS = (*CSV_OPTIONAL_COLUMNS, "age", "sex", "referral_source", *HISTORY_FLAGS, *LAB_TESTS)
# The results shown on the job page: the first rows, and counts over every row.
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = ("line", "record_number", *LAB_TESTS, "predicted_class", "outcome", "reasons", "warnings")
_RECORD_NUMBER_MAX = Patient._meta.get_field("record_number").max_length
_DIAGNOSIS_MAX = LabPanel._meta.get_field("diagnosis_raw").max_length


class UploadRejected(RequestRefused):
    """The uploaded file cannot be read at all (too large, empty, not text, bad header): no job is created."""


class ScoringFailed(Exception):
    """The job cannot go on; the message is shown on the job."""


# --- Reading and validating an upload ---


def _first_line(content: bytes) -> bytes:
    for line in content.split(b"\n", 50)[:50]:
        if line.strip():
            return line.strip().removeprefix(b"\xef\xbb\xbf")
    return b""


def _is_uci_format(first_line: bytes) -> bool:
    """thyroid0387 lines end with diagnosis[record id] and have no header."""
    return first_line.rstrip(b".").endswith(b"]") and b"[" in first_line


def _record_number_as_record_id(content: bytes) -> bytes:
    """Accept a ``record_number`` column (the patient's number) under the name the CSV reader knows, record_id."""
    end = content.find(b"\n")
    head = content if end < 0 else content[:end]
    try:
        text = head.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        return content
    names = [name.strip() for name in next(csv.reader([text]), [])]
    if "record_number" not in names or "record_id" in names:
        return content
    names[names.index("record_number")] = "record_id"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(names)
    return out.getvalue().encode() + content[len(head) :]


def record_number_of(record: dict, *, job_id: int, uci: bool) -> str:
    """The patient's record number: given in the file, or one generated for the job's line."""
    if record.get("record_id"):
        return (UCI_PREFIX if uci else "") + record["record_id"]
    return f"JOB{job_id}-LINE{record['line']}"


def _lab_value_problem(record: dict) -> str | None:
    try:
        check_has_lab_value(record)
    except InputError as problem:
        return problem.message
    return None


def _check_storable(result: ReadResult, *, uci: bool) -> None:
    """Move records that hold no lab value, or whose texts do not fit the database columns, to the rejected
    rows."""
    prefix = len(UCI_PREFIX) if uci else 0
    kept = []
    for record in result.records:
        if (problem := _lab_value_problem(record)) is not None:
            result.errors.append(RowError(record["line"], problem))
        elif record.get("record_id") and len(record["record_id"]) + prefix > _RECORD_NUMBER_MAX:
            reason = f"record_number is longer than {_RECORD_NUMBER_MAX} characters"
            result.errors.append(RowError(record["line"], reason))
        elif record.get("diagnosis") and len(record["diagnosis"]) > _DIAGNOSIS_MAX:
            result.errors.append(RowError(record["line"], f"diagnosis is longer than {_DIAGNOSIS_MAX} characters"))
        else:
            kept.append(record)
    result.records = kept
    result.errors.sort(key=lambda error: error.line)


def read_upload(content: bytes) -> tuple[bool, ReadResult]:
    """(is UCI format, rows read) of an uploaded file; UploadRejected when the file as a whole is unreadable."""
    if not content.strip():
        raise UploadRejected("The file is empty.")
    first = _first_line(content)
    uci = _is_uci_format(first)
    if uci:
        result = read_uci(io.BytesIO(content))
    else:
        try:
            first.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRejected("The file is not UTF-8 text (save it as CSV UTF-8).") from None
        result = read_csv(io.BytesIO(_record_number_as_record_id(content)), optional=SCORING_OPTIONAL_COLUMNS)
        header_problems = [error.reason for error in result.errors if error.line == 1]
        if header_problems:
            raise UploadRejected(f"Line 1 (header): {'; '.join(header_problems)}.")
    _check_storable(result, uci=uci)
    if not result.records and not result.errors:
        raise UploadRejected("The file has no data rows.")
    return uci, result


def start_scoring_job(*, user, request=None, uploaded_file, mode: str = ScoringJob.Mode.STORE) -> ScoringJob:
    """Validate an uploaded CSV or UCI-format file, store it, and queue a job that scores its accepted rows:
    ``mode`` score_only keeps the results with the job only; store also stores each row as a panel of its
    patient (found by record number, else created) with its prediction.

    Raises UploadRejected when the file cannot be read at all. Rejected rows are reported on the job
    with their line numbers; a file with no acceptable row gives a job that is already ``failed``.
    """
    if mode not in ScoringJob.Mode.values:
        raise UploadRejected(f"mode must be one of {', '.join(ScoringJob.Mode.values)}.")
    limit = settings.THYROWEB_MAX_UPLOAD_BYTES
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > limit:
        raise UploadRejected(f"The file is {size} bytes; the limit is {limit} bytes.")
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
        created_by=user if user is not None and user.is_authenticated else None,
        celery_task_id=str(uuid.uuid4()),
    )
    if not accepted:
        job.status = JobStatus.FAILED
        job.finished_at = timezone.now()
        job.message = f"None of the {rejected} data rows can be scored; see the rejected rows."
    with transaction.atomic():
        job.input_file.save(f"job-{uuid.uuid4().hex}.{'data' if uci else 'csv'}", ContentFile(content), save=False)
        if accepted:
            _save_chunks(job, uci, result.records)
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


# --- Scoring in workers ---

# Helper tasks queued per job at most (each one stays while chunks are left, so this bounds the workers).
MAX_HELPERS = 32
HELPER_TASK = "diagnostics.help_scoring_job"


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
        _delete_working_files(job)
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
        _delete_working_files(job)


def _chunks_name(job: ScoringJob) -> str:
    return f"{job.input_file.name}.chunks.json"


def _chunk_name(job: ScoringJob, index: int) -> str:
    return f"{job.input_file.name}.chunk{index}.json"


def _part_name(job: ScoringJob, index: int) -> str:
    return f"{job.input_file.name}.results{index}.csv"


def _overwrite(storage, name: str, content: bytes) -> None:
    if storage.exists(name):
        storage.delete(name)
    storage.save(name, ContentFile(content))


def _save_chunks(job: ScoringJob, uci: bool, records: list[dict]) -> list[int]:
    """Keep the validated rows beside the uploaded file, a file per chunk, and a list of the chunks' sizes
    (returned): the workers neither parse nor validate the upload again."""
    storage = job.input_file.storage
    size = max(1, settings.THYROWEB_SCORING_CHUNK_ROWS)
    sizes = []
    for index, start in enumerate(range(0, len(records), size)):
        part = records[start : start + size]
        _overwrite(storage, _chunk_name(job, index), json.dumps({"uci": uci, "records": part}).encode())
        sizes.append(len(part))
    _overwrite(storage, _chunks_name(job), json.dumps(sizes).encode())
    return sizes


def _stored_chunk_sizes(job: ScoringJob) -> list[int] | None:
    """The sizes of the chunks saved at upload, or None when they are not (all) stored any more."""
    storage = job.input_file.storage
    try:
        with storage.open(_chunks_name(job), "rb") as handle:
            sizes = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(sizes, list) or not all(storage.exists(_chunk_name(job, i)) for i in range(len(sizes))):
        return None
    return sizes


def _read_upload_again(job: ScoringJob) -> tuple[bool, ReadResult]:
    try:
        with job.input_file.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, ValueError):
        raise ScoringFailed("The uploaded file is no longer stored; upload it again.") from None
    try:
        return read_upload(content)
    except UploadRejected as problem:
        raise ScoringFailed(f"The stored file cannot be read: {problem}") from None


def _source_ref(job_id: int, line: int) -> str:
    return f"job{job_id}:line{line}"


def _prepare_chunks(job: ScoringJob) -> int:
    """Fix the job's model version and split its rows into chunks (once); the number of chunks left."""
    if job.model_version_id is None:
        try:
            version = active_model_version()
        except FileNotFoundError:  # nothing active and no model shipped in mlcore
            raise ScoringFailed("No model version is active; a data manager must activate one first.") from None
        ScoringJob.objects.filter(pk=job.pk).update(model_version=version)
        job.model_version = version
    if not job.chunks.exists():
        sizes = _stored_chunk_sizes(job)
        if sizes is None:  # the chunk files are gone: validate the uploaded file again
            uci, result = _read_upload_again(job)
            if not result.records:
                raise ScoringFailed(f"None of the {len(result.errors)} data rows in the file can be scored.")
            sizes = _save_chunks(job, uci, result.records)
        chunks = [ScoringChunk(job=job, index=index, rows=rows) for index, rows in enumerate(sizes)]
        ScoringChunk.objects.bulk_create(chunks, ignore_conflicts=True)
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


def _read_chunk(job: ScoringJob, index: int) -> tuple[bool, list[dict]]:
    try:
        with job.input_file.storage.open(_chunk_name(job, index), "rb") as handle:
            payload = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        raise ScoringFailed(f"Part {index + 1} of the job's rows is no longer stored; upload the file again.") from None
    return payload["uci"], payload["records"]


@transaction.atomic
def _score_next_chunk(job: ScoringJob, predictor, *, careful: bool = False) -> int | None:
    """Take the first chunk that is neither done nor held by another worker, and store and score it in this
    transaction (marked done with it); its index, or None when no chunk is left to take."""
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
    uci, records = _read_chunk(job, chunk.index)
    if job.mode == ScoringJob.Mode.SCORE_ONLY:
        scored, created_patients = predict_batch(predictor, records), 0
    else:
        scored, created_patients = _store_chunk(job, job.model_version, predictor, records, uci=uci, careful=careful)
    storage = job.input_file.storage
    _overwrite(storage, _part_name(job, chunk.index), _result_rows(job, records, scored, uci=uci).encode())
    ScoringChunk.objects.filter(pk=chunk.pk).update(
        done_at=timezone.now(), done_by=f"{socket.gethostname()}/{os.getpid()}", created_patients=created_patients
    )
    ScoringJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now(),
        scored_rows=F("scored_rows") + len(records),
        progress=Cast(F("scored_rows") + len(records), FloatField()) / float(max(1, job.accepted_rows)),
    )
    return chunk.index


def _finish(job: ScoringJob) -> None:
    """Write the results file from the chunks' parts and mark the job succeeded (once, whoever calls)."""
    with transaction.atomic():
        locked = ScoringJob.objects.select_for_update().filter(pk=job.pk, status=JobStatus.RUNNING).first()
        chunks = list(ScoringChunk.objects.filter(job=job).order_by("index"))
        if locked is None or not chunks or any(chunk.done_at is None for chunk in chunks):
            return
        out = io.BytesIO()
        out.write(_csv_line(RESULT_COLUMNS).encode())
        for chunk in chunks:
            out.write(_checked_part(job, chunk))
        name = job.result_file.storage.save(
            f"scoring/results/job-{job.pk}-{uuid.uuid4().hex}.csv", ContentFile(out.getvalue())
        )
        rows = sum(chunk.rows for chunk in chunks)
        version = job.model_version
        ScoringJob.objects.filter(pk=job.pk).update(
            status=JobStatus.SUCCEEDED,
            scored_rows=rows,
            progress=1.0,
            result_file=name,
            preview=results_preview(out.getvalue()),
            finished_at=timezone.now(),
            message=f"{rows} rows scored with model {version.version}.",
        )
        record_event(
            action="scoring_job.finish",
            actor=job.created_by,
            obj=job,
            scored_rows=rows,
            created_patients=sum(chunk.created_patients for chunk in chunks),
            model_version=version.version,
        )
    _delete_working_files(job)


def results_preview(content: bytes) -> dict:
    """The job page's view of a results file: counts per outcome and per predicted class over every row
    (not assessed rows have no class: counted under "none"), and the first PREVIEW_ROWS rows."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8")))
    outcomes = dict.fromkeys(OUTCOMES, 0)
    classes = {**dict.fromkeys(CLASSES, 0), "none": 0}
    rows = []
    for row in reader:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
        name = row["predicted_class"] or "none"
        classes[name] = classes.get(name, 0) + 1
        if len(rows) < PREVIEW_ROWS:
            rows.append({column: row[column] for column in PREVIEW_COLUMNS})
    return {"counts": {"outcome": outcomes, "predicted_class": classes}, "rows": rows}


def template_csv() -> str:
    """The downloadable CSV template: the record number and every lab test with our unit in the header, the
    optional columns after them, and one example row (valid: it scores). Only the record number and one lab
    column are needed; the others may be removed."""
    labs = [f"{name}[{units.display(units.our_unit(name))}]" for name in LAB_TESTS]
    header = ["record_number", *labs, "age", "sex", "collected_at"]
    example = ["MRN-0001", *(TEMPLATE_EXAMPLE_LABS[name] for name in LAB_TESTS), "54", "F", "2026-01-05T09:30"]
    return _csv_line(header) + _csv_line(example)


# The template's example row: values within the reference intervals of mlcore.schema.LAB_TESTS.
TEMPLATE_EXAMPLE_LABS = {"TSH": "2.1", "T3": "1.8", "TT4": "98", "T4U": "0.95", "FTI": "103", "TBG": "20",
                         "FT4": "14.5", "FT3": "4.8"}  # fmt: skip


def _checked_part(job: ScoringJob, chunk: ScoringChunk) -> bytes:
    """A chunk's results rows: its part file when it holds every row, else rebuilt from the stored
    predictions (a part lost or cut short by a crash after its chunk was committed)."""
    storage = job.input_file.storage
    try:
        with storage.open(_part_name(job, chunk.index), "rb") as handle:
            part = handle.read()
        if sum(1 for _ in csv.reader(io.StringIO(part.decode()))) == chunk.rows:
            return part
    except (FileNotFoundError, UnicodeDecodeError, csv.Error):
        pass
    uci, records = _read_chunk(job, chunk.index)
    refs = [_source_ref(job.pk, record["line"]) for record in records]
    stored = Prediction.objects.filter(
        model_version=job.model_version, panel__source=LabPanel.Source.CSV, panel__source_ref__in=refs
    ).values_list("panel__source_ref", *SCORED_COLUMNS)
    outcomes = {ref: tuple(rest) for ref, *rest in stored}
    if len(outcomes) != len(refs):
        raise ScoringFailed(f"Part {chunk.index + 1} of the results cannot be rebuilt; upload the file again.")
    return _result_rows(job, records, [outcomes[ref] for ref in refs], uci=uci).encode()


def _delete_working_files(job: ScoringJob) -> None:
    """Delete the job's chunk and results-part files (they hold record numbers and lab values)."""
    if not job.input_file:
        return
    storage = job.input_file.storage
    folder, base = os.path.split(job.input_file.name)
    _, files = storage.listdir(folder)
    for name in files:
        if name.startswith(f"{base}.chunk") or name.startswith(f"{base}.results"):
            storage.delete(f"{folder}/{name}" if folder else name)


def _collected_at(record: dict, *, uci: bool, default: datetime) -> datetime:
    if uci:
        return collected_at_from_record_id(record["record_id"]) or default
    if record.get("collected_at"):
        moment = datetime.fromisoformat(record["collected_at"])
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    return default


def _insert(model, columns: tuple[str, ...], rows: list[tuple], *, fast: bool, ignore_conflicts: bool = False):
    """Insert rows (tuples of the columns' values); their new ids in order (none when conflicts are ignored).

    fast: PostgreSQL COPY, where a conflict is an IntegrityError (the chunk is then rerun carefully)."""
    if fast:
        return copy_rows(model, columns, rows, with_ids=not ignore_conflicts)
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=ignore_conflicts)
    return [obj.pk for obj in objects]


def _patient_ids(job: ScoringJob, records: list[dict], *, uci: bool, fast: bool) -> tuple[list[int], int]:
    """Patient ids for the records (existing patients by record number, the others created): (ids, created).

    fast: the numbers generated for this job's lines are known to be new (a chunk is stored once, or
    rolled back whole), so only the record numbers given in the file are looked up.
    """
    numbers = [record_number_of(record, job_id=job.pk, uci=uci) for record in records]
    lookup = {n for n, r in zip(numbers, records, strict=True) if r.get("record_id")} if fast else set(numbers)
    ids = dict(Patient.objects.filter(record_number__in=lookup).values_list("record_number", "id")) if lookup else {}
    missing = {}
    for number, record in zip(numbers, records, strict=True):
        if number not in ids:
            missing.setdefault(number, record.get("sex") or "")
    if missing:
        # In one order (by number), so that two chunks creating the same patients wait rather than deadlock.
        rows = sorted(missing.items())
        columns = ("record_number", "sex")
        if fast:
            ids.update(zip((n for n, _ in rows), _insert(Patient, columns, rows, fast=True), strict=True))
        else:
            _insert(Patient, columns, rows, fast=False, ignore_conflicts=True)
            ids.update(Patient.objects.filter(record_number__in=missing).values_list("record_number", "id"))
    return [ids[number] for number in numbers], len(missing)


PANEL_COLUMNS = (
    "patient_id",
    "collected_at",
    "source",
    "source_ref",
    "diagnosis_raw",
    "diagnosis_class",
    "created_by_id",
    "created_at",
    "received",
    *PANEL_VALUE_FIELDS,
)
# What predict_batch gives per record, in this order (Prediction fields).
SCORED_COLUMNS = (
    "predicted_class",
    *(f"p_{name}" for name in CLASSES),
    "uncertain",
    "outcome",
    "reasons",
    "warnings",
    "pattern",
)
PREDICTION_COLUMNS = (
    "panel_id",
    "model_version_id",
    *SCORED_COLUMNS,
    "explanation",
    "requested_by_id",
    "created_at",
)


def predict_batch(predictor, records: list[dict]) -> list[tuple]:
    """The SCORED_COLUMNS values per record (no explanations), decided by Predictor.predict itself: the
    same outcome, reasons and warnings (mlcore.rules) as a panel scored alone. Not assessed: empty class,
    no probabilities."""
    scored = []
    for result in predictor.predict(records, explain=False):
        probabilities = result.probabilities or {}
        scored.append(
            (
                result.predicted_class or "",
                *(probabilities.get(name) for name in CLASSES),
                result.uncertain,
                result.outcome,
                result.reasons,
                result.warnings,
                result.pattern,
            )
        )
    return scored


@transaction.atomic
def _store_chunk(
    job: ScoringJob, version, predictor, records: list[dict], *, uci: bool, careful: bool = False
) -> tuple[list[tuple], int]:
    """Store and score one chunk of rows: (their outcomes as predict_batch gives them, patients created).

    The chunk is one transaction. With PostgreSQL it is written with COPY, assuming none of its rows is
    stored yet (true unless another chunk creates the same patient at the same moment: the IntegrityError
    then makes the caller run it again with ``careful``, which skips what exists).
    """
    fast = connection.vendor == "postgresql" and not careful
    patient_ids, created_patients = _patient_ids(job, records, uci=uci, fast=fast)
    refs = [_source_ref(job.pk, record["line"]) for record in records]
    panel_ids = {}
    if not fast:
        existing = LabPanel.objects.filter(source=LabPanel.Source.CSV, source_ref__in=refs)
        panel_ids = dict(existing.values_list("source_ref", "id"))
    now = timezone.now()
    new_refs = [ref for ref in refs if ref not in panel_ids]
    new_panels = [
        (
            patient_id,
            _collected_at(record, uci=uci, default=now),
            LabPanel.Source.CSV.value,
            ref,
            record.get("diagnosis") or "",
            record.get("label") or "",
            job.created_by_id,
            now,
            record.get("received") or {},
            *(record[name] for name in PANEL_VALUE_FIELDS),
        )
        for record, patient_id, ref in zip(records, patient_ids, refs, strict=True)
        if ref not in panel_ids
    ]
    panel_ids.update(zip(new_refs, _insert(LabPanel, PANEL_COLUMNS, new_panels, fast=fast), strict=True))
    scored = predict_batch(predictor, records)
    predictions = [
        (panel_ids[ref], version.pk, *outcome, [], job.created_by_id, now)
        for ref, outcome in zip(refs, scored, strict=True)
    ]
    _insert(Prediction, PREDICTION_COLUMNS, predictions, fast=fast, ignore_conflicts=True)
    return scored, created_patients


# --- The results file ---


_FLAG_TEXT = {None: "", True: "true", False: "false"}


def _text(value) -> str:
    """A free-text cell (record number, diagnosis, date): a spreadsheet will not run it as a formula."""
    return "" if value is None else safe_cell(str(value))


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def _codes(reasons) -> str:
    """Reason or warning codes joined by ';' (the codes are mlcore's fixed words, never formulas)."""
    return ";".join(str(reason["code"]) for reason in reasons or [])


def _result_rows(job: ScoringJob, records: list[dict], scored: list[tuple], *, uci: bool) -> str:
    """Rows of the results CSV (input columns, predicted class, probabilities, uncertain, outcome, reason and
    warning codes, the guideline reading's code) for scored records; a not-assessed row has an empty class
    and empty probabilities."""
    out = io.StringIO()
    writer = csv.writer(out)
    for record, (predicted_class, *probabilities, uncertain, outcome, reasons, warnings, _pattern) in zip(
        records, scored, strict=True
    ):
        # Input values are the validated ones: numbers, flags and fixed codes, never formulas.
        inputs = [_FLAG_TEXT[value] if value is None or value is True or value is False else value
                  for value in (record[name] for name in INPUT_FIELDS)]  # fmt: skip
        writer.writerow(
            [
                record["line"],
                _text(record_number_of(record, job_id=job.pk, uci=uci)),
                *inputs,
                _text(record.get("diagnosis")),
                _text(record.get("collected_at")),
                predicted_class,
                *("" if p is None else round(p, 4) for p in probabilities),
                _FLAG_TEXT[uncertain],
                outcome,
                _codes(reasons),
                _codes(warnings),
                (_pattern or {}).get("code", ""),
            ]
        )
    return out.getvalue()


def result_csv_text(job: ScoringJob) -> str | None:
    """The results CSV of a succeeded job (from the file storage), or None."""
    if job.status != JobStatus.SUCCEEDED or not job.result_file:
        return None
    try:
        with job.result_file.open("rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return None


# --- Stored panels without a prediction (e.g. right after a UCI import) ---


def score_stored_panels(*, version=None, chunk_rows: int = 5000) -> int:
    """Score, in bulk and without explanations, every visible panel that the version has not scored yet.

    Idempotent: a panel already scored by the version is skipped; returns the number of predictions stored.
    """
    version = version or active_model_version()
    predictor = load_predictor(version)
    unscored = (
        LabPanel.objects.filter(patient__deleted_at__isnull=True)
        .exclude(predictions__model_version=version)
        .order_by("id")
        .values("id", "patient__sex", *PANEL_VALUE_FIELDS)
    )
    stored = 0
    rows = list(unscored)
    for start in range(0, len(rows), chunk_rows):
        part = rows[start : start + chunk_rows]
        records = [{**{f: row[f] for f in PANEL_VALUE_FIELDS}, "sex": row["patient__sex"] or None} for row in part]
        now = timezone.now()
        predictions = [
            (row["id"], version.pk, *outcome, [], None, now)
            for row, outcome in zip(part, predict_batch(predictor, records), strict=True)
        ]
        with transaction.atomic():
            _insert(Prediction, PREDICTION_COLUMNS, predictions, fast=False, ignore_conflicts=True)
        stored += len(predictions)
    if stored:
        record_event(action="prediction.bulk_stored_panels", object_type="prediction", count=stored,
                     model_version=version.version)  # fmt: skip
    return stored
