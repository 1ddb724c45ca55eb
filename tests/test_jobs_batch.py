"""Batch scoring (services): validation of the upload, idempotent chunks, results CSV. Run in-process here;
tests/test_jobs_worker.py runs the same jobs through a real Celery worker."""

import csv
import io

import pytest

from diagnostics.models import AuditEvent, JobStatus, LabPanel, Patient, Prediction, ScoringChunk, ScoringJob
from diagnostics.services.intake import score_panels, score_values
from diagnostics.services.jobs import fail_job
from diagnostics.services.registry import load_predictor
from diagnostics.services.scoring_jobs import (
    UploadRejected,
    process_scoring_job,
    result_csv_text,
    start_scoring_job,
    worker,
)
from diagnostics.services.scoring_jobs.rows import JobRow
from diagnostics.services.scoring_jobs.store import store_chunk
from diagnostics.tasks import run_scoring_job
from tests.job_builders import csv_text, dev_lines, dev_records, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def run(job: ScoringJob) -> ScoringJob:
    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)
    job.refresh_from_db()
    return job


def result_rows(job: ScoringJob) -> list[dict]:
    return list(csv.DictReader(io.StringIO(result_csv_text(job))))


def good_and_bad_csv() -> str:
    rows = dev_records(4)
    bad_tsh = {**rows[1], "TSH": 1200}
    bad_age = {**rows[2], "age": "old"}
    text = csv_text([rows[0], bad_tsh, rows[3], bad_age, rows[0]], extra=("record_number",))
    return text + "41,F,f\n"  # line 7: too few values


def test_upload_with_good_and_bad_rows_reports_rejected_lines_and_scores_the_rest(data_manager, active_version):
    job = start_scoring_job(user=data_manager, uploaded_file=upload(good_and_bad_csv()))

    assert (job.status, job.total_rows, job.accepted_rows, job.rejected_rows) == (JobStatus.QUEUED, 6, 3, 3)
    assert [entry["line"] for entry in job.rejected] == [3, 5, 7]
    assert "TSH 1200 mU/L is above the plausible maximum 1000 mU/L" in job.rejected[0]["reason"]
    assert "age 'old' is not a number" in job.rejected[1]["reason"]
    assert "expected" in job.rejected[2]["reason"] and "found 3" in job.rejected[2]["reason"]

    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert (job.scored_rows, job.progress, job.model_version) == (3, 1.0, active_version)
    refs = set(LabPanel.objects.filter(source=LabPanel.Source.CSV).values_list("source_ref", flat=True))
    assert refs == {f"job{job.pk}:line{n}" for n in (2, 4, 6)}
    assert Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:").count() == 3
    assert AuditEvent.objects.filter(action="scoring_job.create", object_id=str(job.pk)).exists()
    assert AuditEvent.objects.filter(action="scoring_job.finish", object_id=str(job.pk)).exists()


def test_results_csv_has_input_columns_class_probabilities_and_uncertain_flag(data_manager, active_version):
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(good_and_bad_csv())))

    rows = result_rows(job)
    assert [row["line"] for row in rows] == ["2", "4", "6"]
    first = rows[0]
    assert {"age", "sex", "TSH", "FTI", "referral_source", "record_number"} <= first.keys()
    assert first["predicted_class"] in {"normal", "hyperthyroid", "hypothyroid"}
    total = sum(float(first[f"p_{name}"]) for name in ("normal", "hyperthyroid", "hypothyroid"))
    assert total == pytest.approx(1.0, abs=1e-3)
    assert first["uncertain"] in {"true", "false"}
    stored = Prediction.objects.get(panel__source_ref=f"job{job.pk}:line2")
    assert first["predicted_class"] == stored.predicted_class


def test_results_csv_neutralises_spreadsheet_formulas(data_manager, active_version):
    row = dev_records(1)[0]
    text = csv_text(
        [{**row, "record_number": '=HYPERLINK("http://x")'}, {**row, "record_number": "@SUM(A1)"}],
        extra=("record_number",),
    )
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(text)))

    numbers = [r["record_number"] for r in result_rows(job)]
    assert numbers == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    assert Patient.objects.filter(record_number="@SUM(A1)").exists()  # stored as given, neutralised on export


def test_rows_with_a_record_number_join_that_patient_and_others_get_one_patient_each(data_manager, active_version):
    existing = Patient.objects.create(record_number="MRN-1", sex="F")
    rows = dev_records(4)
    text = csv_text(
        [
            {**rows[0], "record_number": "MRN-1"},
            {**rows[1], "record_number": "MRN-1"},
            {**rows[2], "record_number": ""},
            {**rows[3], "record_number": "MRN-2"},
        ],
        extra=("record_number",),
    )
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(text)))

    assert existing.panels.count() == 2
    assert Patient.objects.get(record_number="MRN-2").panels.count() == 1
    assert Patient.objects.get(record_number=f"JOB{job.pk}-LINE4").panels.count() == 1


def test_uci_format_files_are_scored_too(data_manager, active_version):
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(30)), "part.data")))

    assert (job.status, job.accepted_rows, job.scored_rows) == (JobStatus.SUCCEEDED, 30, 30)
    panel = LabPanel.objects.get(source_ref=f"job{job.pk}:line1")
    assert panel.patient.record_number.startswith("UCI-") and panel.diagnosis_raw
    # JSON columns written by COPY are JSON values, not strings holding JSON.
    assert Prediction.objects.filter(panel=panel, explanation=[]).count() == 1
    assert AuditEvent.objects.filter(action="scoring_job.finish", details__scored_rows=30).exists()
    storage, name = job.input_file.storage, job.input_file.name
    assert storage.exists(name) and not any(  # the chunks and their results parts are cleared at the end
        storage.exists(f"{name}.{working}") for working in ("chunks.json", "chunk0.json", "results0.csv")
    )


def claimed_and_split(user, settings, rows: int, chunk_rows: int):
    """An uploaded job as a worker leaves it after claiming it and splitting it into chunks: (job, predictor)."""
    settings.THYROWEB_SCORING_CHUNK_ROWS = chunk_rows
    job = start_scoring_job(user=user, uploaded_file=upload("\n".join(dev_lines(rows)), "part.data"))
    ScoringJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    worker._prepare_chunks(job)
    return job, load_predictor(job.model_version)


def job_rows(count: int) -> list[JobRow]:
    """The first rows of the dev data as a UCI file's job keeps them."""
    return [JobRow.from_record(record, uci=True) for record in dev_records(count)]


def store_scored(job, version, rows, **options) -> int:
    """A chunk of rows scored by the one scoring path and stored, as a worker does."""
    results, _ = score_panels([row.panel for row in rows], version=version)
    return store_chunk(job, version, rows, results, uci=True, **options)


def test_a_job_delivered_again_after_its_last_chunk_adds_nothing_and_is_closed(data_manager, active_version, settings):
    # A worker claimed the job and stored every chunk, then died before closing it.
    job, predictor = claimed_and_split(data_manager, settings, rows=40, chunk_rows=7)
    while worker._score_next_chunk(job, predictor) is not None:
        pass
    assert ScoringChunk.objects.filter(job=job, done_at__isnull=False).count() == 6  # 40 rows by 7
    counts = (LabPanel.objects.count(), Prediction.objects.count(), Patient.objects.count())
    # The crash also lost one chunk's results part and cut another short (written but not flushed).
    storage, name = job.input_file.storage, job.input_file.name
    storage.delete(f"{name}.results0.csv")
    with storage.open(f"{name}.results1.csv", "rb") as part:
        first_line = part.read().split(b"\n", 1)[0] + b"\n"
    storage.delete(f"{name}.results1.csv")
    storage.save(f"{name}.results1.csv", io.BytesIO(first_line))

    job = run(job)  # the message delivered again

    assert job.status == JobStatus.SUCCEEDED and job.scored_rows == 40
    assert (LabPanel.objects.count(), Prediction.objects.count(), Patient.objects.count()) == counts
    rows = result_rows(job)  # the two parts rebuilt from the stored predictions
    assert [row["line"] for row in rows] == [str(n) for n in range(1, 41)]
    stored = Prediction.objects.get(panel__source_ref=f"job{job.pk}:line9")
    assert (rows[8]["predicted_class"], float(rows[8]["p_normal"])) == (
        stored.predicted_class,
        pytest.approx(stored.p_normal, abs=1e-4),
    )


def test_once_a_job_failed_no_participant_scores_another_chunk(data_manager, active_version, settings):
    job, predictor = claimed_and_split(data_manager, settings, rows=30, chunk_rows=10)
    assert worker._score_next_chunk(job, predictor) == 0
    fail_job(ScoringJob, pk=job.pk, message="stopped by another participant")

    assert worker._score_next_chunk(job, predictor) is None
    assert LabPanel.objects.filter(source_ref__startswith=f"job{job.pk}:").count() == 10


def test_a_job_interrupted_between_chunks_is_resumed_with_every_row_scored_once(data_manager, active_version, settings):
    settings.THYROWEB_SCORING_CHUNK_ROWS = 10
    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(35)), "part.data"))
    # Lines 1-10 were stored by a worker that died before finishing the job.
    store_scored(job, active_version, job_rows(35)[:10])
    ScoringJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, model_version=active_version)

    job = run(job)

    assert job.status == JobStatus.SUCCEEDED and job.scored_rows == 35
    refs = list(LabPanel.objects.filter(source_ref__startswith=f"job{job.pk}:").values_list("source_ref", flat=True))
    assert sorted(refs) == sorted(f"job{job.pk}:line{n}" for n in range(1, 36))
    assert Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:").count() == 35
    rows = result_rows(job)  # lines 1-10 read back from the database, the others scored by this run
    assert [row["line"] for row in rows] == [str(n) for n in range(1, 36)]
    stored = {p.panel.source_ref: p for p in Prediction.objects.filter(panel__source_ref__startswith=f"job{job.pk}:")}
    for row in rows:
        prediction = stored[f"job{job.pk}:line{row['line']}"]
        assert (row["predicted_class"], row["outcome"]) == (prediction.predicted_class, prediction.outcome)
        if prediction.p_normal is None:  # not assessed: empty probabilities
            assert row["p_normal"] == ""
        else:
            assert float(row["p_normal"]) == pytest.approx(prediction.p_normal, abs=1e-4)
    assert {row["outcome"] for row in rows} >= {"assessed", "not_assessed"}  # both kinds read back


def test_another_task_cannot_take_a_job_that_is_running(data_manager, active_version):
    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(5)), "part.data"))
    ScoringJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)

    process_scoring_job(job_id=job.pk, task_id="some-other-task")

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.scored_rows == 0
    assert not LabPanel.objects.filter(source=LabPanel.Source.CSV).exists()


def test_a_finished_job_is_not_run_again(data_manager, active_version):
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(5)), "part.data")))
    finished_at = job.finished_at

    job = run(job)

    assert job.finished_at == finished_at and Prediction.objects.count() == 5


def test_a_job_whose_stored_file_is_gone_ends_failed_with_a_message(data_manager, active_version):
    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(5)), "part.data"))
    for stored in (job.input_file.name, f"{job.input_file.name}.chunks.json"):  # the upload and its chunks
        job.input_file.storage.delete(stored)

    job = run(job)

    assert job.status == JobStatus.FAILED
    assert "no longer stored" in job.message and job.finished_at is not None


def test_a_job_whose_stored_files_became_unreadable_ends_failed_with_a_message(data_manager, active_version):
    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(5)), "part.data"))
    storage, name = job.input_file.storage, job.input_file.name
    for damaged, content in ((name, b""), (f"{name}.chunks.json", b"{not json")):
        storage.delete(damaged)
        assert storage.save(damaged, io.BytesIO(content)) == damaged

    job = run(job)

    assert job.status == JobStatus.FAILED and "cannot be read" in job.message and "empty" in job.message
    assert not storage.exists(f"{name}.chunk0.json")  # working files go with a failed job


def test_a_file_without_any_acceptable_row_gives_a_failed_job_with_the_report(data_manager):
    text = csv_text([{**dev_records(1)[0], "TSH": -1}])
    job = start_scoring_job(user=data_manager, uploaded_file=upload(text))

    assert job.status == JobStatus.FAILED and "None of the 1 data rows" in job.message
    assert job.rejected[0]["line"] == 2 and "TSH" in job.rejected[0]["reason"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"age,sex\n41,F\n", "missing required column(s)"),
        ("age,TSH\n".encode("utf-16"), "UTF-8"),
        (csv_text([]).encode(), "no data rows"),
    ],
    ids=["empty", "missing-columns", "utf16", "header-only"],
)
def test_unreadable_files_are_refused_before_a_job_exists(data_manager, content, message):
    with pytest.raises(UploadRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        start_scoring_job(user=data_manager, uploaded_file=upload(content))
    assert not ScoringJob.objects.exists()


def test_files_over_the_size_limit_are_refused(data_manager, settings):
    settings.THYROWEB_MAX_UPLOAD_BYTES = 100
    with pytest.raises(UploadRejected, match="limit is 100 bytes"):
        start_scoring_job(user=data_manager, uploaded_file=upload("x" * 101))
    assert not ScoringJob.objects.exists()


def test_the_task_runs_the_job_in_process(data_manager, active_version):
    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(3)), "part.data"))

    run_scoring_job.apply(args=[job.pk], task_id=job.celery_task_id)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.scored_rows == 3


def test_upload_in_the_embedded_default_is_scored_on_commit(
    data_manager, active_version, settings, django_capture_on_commit_callbacks
):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("a broker is configured: tests/test_jobs_worker.py covers the worker")
    with django_capture_on_commit_callbacks(execute=True):
        job = start_scoring_job(user=data_manager, uploaded_file=upload(good_and_bad_csv()))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.scored_rows == 3


def test_a_chunk_stored_by_two_workers_at_once_is_kept_once(data_manager, active_version):
    from django.db import IntegrityError

    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(12)), "part.data"))
    rows = job_rows(12)
    store_scored(job, active_version, rows)
    counts = (LabPanel.objects.count(), Prediction.objects.count(), Patient.objects.count())

    try:  # the second worker's fast write (COPY) collides with the first one's rows...
        store_scored(job, active_version, rows)
    except IntegrityError:  # ...and is done again carefully, as a worker does
        store_scored(job, active_version, rows, careful=True)

    assert (LabPanel.objects.count(), Prediction.objects.count(), Patient.objects.count()) == counts == (12, 12, 12)


def test_bulk_scoring_gives_each_panel_the_answer_it_gets_scored_alone(active_version):
    panels = [row.panel for row in job_rows(400)]
    together, _ = score_panels(panels, version=active_version)
    alone = [score_values(panel, version=active_version, explain=False)[0] for panel in panels]
    for bulk, single in zip(together, alone, strict=True):
        assert (bulk.predicted_class, bulk.outcome, bulk.uncertain) == (
            single.predicted_class,
            single.outcome,
            single.uncertain,
        )
        assert (bulk.reasons, bulk.warnings, bulk.notes) == (single.reasons, single.warnings, single.notes)
        if single.probabilities is None:
            assert bulk.probabilities is None
        else:
            assert list(bulk.probabilities.values()) == pytest.approx(list(single.probabilities.values()), abs=1e-6)
    assert {result.outcome for result in together} == {"assessed", "refer", "not_assessed"}  # every kind compared


def test_a_job_that_cannot_be_queued_fails_instead_of_waiting_forever(data_manager, active_version, monkeypatch):
    from celery import Celery

    from diagnostics.services.jobs import enqueue

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to any app's own broker_url
    # nothing listens on port 9; set_as_current=False keeps the project's app the one shared tasks use
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:9/0", set_as_current=False)
    unreachable.conf.update(task_publish_retry=False, broker_connection_timeout=1, task_always_eager=False)

    @unreachable.task(name="unreachable.score")
    def score(job_id):
        pass

    job = start_scoring_job(user=data_manager, uploaded_file=upload("\n".join(dev_lines(3)), "part.data"))

    enqueue(score, ScoringJob, job)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "could not be queued" in job.message
