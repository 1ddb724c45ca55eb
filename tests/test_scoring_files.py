"""Scoring files: the CSV template, files with only a record number and some lab columns,
score-only or store mode chosen at upload, the results preview on the job page, and the banner after upload.
Jobs run in-process here (run()); tests/test_embedded_start.py runs one through a real worker."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from diagnostics.models import JobStatus, LabPanel, Patient, Prediction, ScoringJob
from diagnostics.services.scoring_jobs import UploadRejected, process_scoring_job, result_csv_text, start_scoring_job
from diagnostics.services.scoring_jobs.results import PREVIEW_ROWS
from tests.job_builders import upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

SCORE_ONLY, STORE = ScoringJob.Mode.SCORE_ONLY, ScoringJob.Mode.STORE
LABS_NAMED = "TSH, T3, TT4, T4U, FTI, TBG, FT4, FT3"  # as in tests/test_safe_answers.py
ANSWERED = ("assessed", "refer")
# Record number + TSH + total T4 only: what many labs send. Line 3 is an empty panel (no lab value), line 4
# a partial one (TSH alone), line 5 a total T4 typed in ug/dL under the nmol/L column (17 ug/dL = 218.8 nmol/L).
SHORT_FILE = "record_number,TSH,TT4\nMRN-1,45,40\nMRN-2,,\nMRN-3,2.0,\nMRN-4,0.01,17\nMRN-5,1.5,100\n"


def run(job: ScoringJob) -> ScoringJob:
    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)
    job.refresh_from_db()
    return job


def results(job: ScoringJob) -> dict[str, dict]:
    return {row["record_number"]: row for row in csv.DictReader(io.StringIO(result_csv_text(job)))}


def stored_counts() -> tuple[int, int, int]:
    return Patient.objects.count(), LabPanel.objects.count(), Prediction.objects.count()


def assert_short_file_results(job: ScoringJob) -> dict[str, dict]:
    """The empty panel rejected naming the labs; partial and wrong-unit panels scored with their outcomes."""
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert (job.total_rows, job.accepted_rows, job.rejected_rows, job.scored_rows) == (5, 4, 1, 4)
    (rejected,) = job.rejected
    assert rejected["line"] == 3 and LABS_NAMED in rejected["reason"]
    rows = results(job)
    assert set(rows) == {"MRN-1", "MRN-3", "MRN-4", "MRN-5"}
    assert rows["MRN-1"]["outcome"] in ANSWERED and rows["MRN-1"]["predicted_class"]
    assert rows["MRN-3"]["outcome"] in ANSWERED and rows["MRN-3"]["T3"] == ""  # partial: TSH alone
    unit = rows["MRN-4"]
    assert unit["outcome"] == "refer" and "unit_suspected" in unit["warnings"].split(";")
    # Columns left out: flags read as not recorded, age and sex empty, referral source "other".
    assert rows["MRN-5"]["on_thyroxine"] == "false" and rows["MRN-5"]["age"] == "" and rows["MRN-5"]["sex"] == ""
    return rows


# --- The template ---


def test_the_template_downloads_with_units_in_the_header_and_its_example_row_scores(
    client_for, data_manager, active_version
):
    response = client_for(data_manager).get(reverse("scoring_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="thyroweb-scoring-template.csv"' == response["Content-Disposition"]
    text = response.content.decode()
    header, example = list(csv.reader(io.StringIO(text)))
    assert header[:4] == ["record_number", "TSH[mU/L]", "T3[nmol/L]", "TT4[nmol/L]"]
    assert "FT4[pmol/L]" in header and len(example) == len(header)
    assert not {"on_thyroxine", "referral_source", "diagnosis"} & set(header)  # optional, left out

    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(text), mode=SCORE_ONLY))
    assert (job.status, job.accepted_rows, job.rejected_rows) == (JobStatus.SUCCEEDED, 1, 0)
    assert results(job)["MRN-0001"]["outcome"] == "assessed"


def test_the_template_is_for_data_managers_only(client_for, clinician):
    assert client_for(clinician).get(reverse("scoring_template")).status_code == 403


def test_the_upload_page_links_the_template_and_asks_for_the_mode(client_for, data_manager):
    page = client_for(data_manager).get(reverse("scoring_list")).content.decode()
    assert f'href="{reverse("scoring_template")}"' in page
    assert 'name="mode" value="score_only"' in page and 'name="mode" value="store"' in page
    assert "checked" not in page.split('name="mode"', 1)[1].split("</fieldset>")[0]  # no default choice


# --- Files with some columns only, in each mode ---


def test_a_file_with_only_record_number_tsh_and_tt4_is_scored_without_storing_anything(data_manager, active_version):
    before = stored_counts()
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(SHORT_FILE), mode=SCORE_ONLY))
    assert job.mode == SCORE_ONLY
    assert_short_file_results(job)
    assert stored_counts() == before  # no patient, panel or prediction
    assert sum(chunk.created_patients for chunk in job.chunks.all()) == 0
    preview = job.preview
    assert sum(preview["counts"]["outcome"].values()) == 4
    assert sum(preview["counts"]["predicted_class"].values()) == 4
    assert [row["record_number"] for row in preview["rows"]] == ["MRN-1", "MRN-3", "MRN-4", "MRN-5"]


def test_store_mode_stores_each_row_as_a_panel_of_its_patient_with_its_prediction(data_manager, active_version):
    Patient.objects.create(record_number="MRN-5", sex="F")  # already known: found, not created again
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload(SHORT_FILE), mode=STORE))
    rows = assert_short_file_results(job)
    assert set(Patient.objects.values_list("record_number", flat=True)) == {"MRN-1", "MRN-3", "MRN-4", "MRN-5"}
    assert LabPanel.objects.filter(source=LabPanel.Source.CSV).count() == 4
    partial = LabPanel.objects.get(patient__record_number="MRN-3")
    assert (partial.TSH, partial.TT4, partial.T3) == (2.0, None, None)
    unit = Prediction.objects.get(panel__patient__record_number="MRN-4")
    assert unit.outcome == "refer" and "unit_suspected" in [w["code"] for w in unit.warnings]
    assert (
        Prediction.objects.get(panel__patient__record_number="MRN-1").predicted_class
        == rows["MRN-1"]["predicted_class"]
    )
    assert sum(chunk.created_patients for chunk in job.chunks.all()) == 3


def test_an_unknown_mode_is_refused_and_a_header_with_no_lab_column_names_the_lab_tests(data_manager):
    with pytest.raises(UploadRejected, match="mode must be one of score_only, store"):
        start_scoring_job(user=data_manager, uploaded_file=upload(SHORT_FILE), mode="keep")
    with pytest.raises(UploadRejected, match=f"one lab test at least \\({LABS_NAMED}\\)"):
        start_scoring_job(user=data_manager, uploaded_file=upload("record_number,age\nA,50\n"), mode=STORE)
    assert not ScoringJob.objects.exists()


# --- The pages: mode at upload, preview, banner ---


def post_file(client, text: str, **data):
    return client.post(reverse("scoring_start"), {"uploaded_file": upload(text), **data})


def banner(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_upload_form_requires_the_mode(client_for, data_manager):
    response = post_file(client_for(data_manager), SHORT_FILE)
    assert response.status_code == 400
    assert response.context["form"].errors["mode"]
    assert not ScoringJob.objects.exists()


def test_the_job_page_shows_the_mode_and_a_preview_of_the_results(client_for, data_manager, active_version):
    rows = "".join(f"MRN-{n},{1 + n % 7},{60 + n}\n" for n in range(PREVIEW_ROWS + 5))
    job = run(start_scoring_job(user=data_manager, uploaded_file=upload("record_number,TSH,TT4\n" + rows),
                                mode=SCORE_ONLY))  # fmt: skip
    page = client_for(data_manager).get(reverse("scoring_detail", args=[job.pk])).content.decode()
    assert 'data-mode="score_only"' in page and "Results preview" in page
    assert f"The first {PREVIEW_ROWS} rows of the results" in page
    assert "MRN-0<" in page and f"MRN-{PREVIEW_ROWS - 1}<" in page and f"MRN-{PREVIEW_ROWS}<" not in page
    counts = job.preview["counts"]
    for outcome, count in counts["outcome"].items():
        assert f'data-outcome="{outcome}"' in page
        assert f'<td class="num">{count}</td>' in page
    assert sum(counts["outcome"].values()) == PREVIEW_ROWS + 5
    assert '<th scope="col" class="num">TSH</th>' in page and '<th scope="col" class="num">T3</th>' not in page


def test_a_file_with_no_row_to_score_says_failed_not_started(client_for, data_manager):
    response = post_file(client_for(data_manager), "record_number,TSH\nMRN-1,\n", mode="score_only")
    job = ScoringJob.objects.get()
    assert response.status_code == 302 and job.status == JobStatus.FAILED
    (message,) = banner(response)
    assert message.startswith(f"Job {job.pk} failed: None of the 1 data rows can be scored")
    assert "started" not in message


# The task is queued (or run in-process) when the upload commits. Plain rollback: a serialized test after
# the plain transactional ones finds the content types made again and fails.
@pytest.mark.django_db(transaction=True)
def test_the_banner_says_started_only_for_a_job_still_running(client_for, data_manager, active_version, settings):
    response = post_file(client_for(data_manager), SHORT_FILE, mode="score_only")
    job = ScoringJob.objects.get()
    (message,) = banner(response)
    if settings.CELERY_TASK_ALWAYS_EAGER:  # run in the request: already finished
        assert job.status == JobStatus.SUCCEEDED and message == f"Job {job.pk} finished."
    else:  # queued for a worker
        assert job.status == JobStatus.QUEUED and message == f"Scoring job {job.pk} started."
        from thyroweb.celery import app

        app.control.purge()  # no worker here: leave no task behind for another test's worker


# --- The API ---


def test_the_api_takes_the_mode_and_shows_the_preview(client_for, data_manager, active_version):
    client = client_for(data_manager)
    before = stored_counts()
    response = client.post(reverse("api-scoring-jobs"), {"file": upload(SHORT_FILE), "mode": "score_only"})
    assert response.status_code == 202, response.content
    job = run(ScoringJob.objects.get(pk=response.json()["id"]))
    detail = client.get(reverse("api-scoring-job", args=[job.pk])).json()
    assert detail["mode"] == "score_only" and sum(detail["preview"]["counts"]["outcome"].values()) == 4
    assert stored_counts() == before
    refused = client.post(reverse("api-scoring-jobs"), {"file": upload(SHORT_FILE), "mode": "keep"})
    assert refused.status_code == 400 and "mode" in refused.json()["errors"]
    assert ScoringJob.objects.count() == 1
