"""Job pages: start forms for data managers, refusals shown on the form, live progress JSON, results."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from diagnostics.models import JobStatus, ScoringJob, TrainingRun
from mlcore.schema import INPUT_FIELDS

pytestmark = pytest.mark.django_db


def csv_upload(rows: list[dict], name: str = "panels.csv") -> SimpleUploadedFile:
    lines = [",".join(INPUT_FIELDS)]
    for row in rows:
        lines.append(",".join(str(row.get(field, "")) for field in INPUT_FIELDS))
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


def test_data_manager_starts_a_training_run_with_chosen_epochs(client_for, data_manager):
    response = client_for(data_manager).post(reverse("training_start"), {"epochs": "3"})
    run = TrainingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("training_detail", args=[run.pk])
    assert run.params.get("epochs") == 3 and run.started_by == data_manager


def test_training_run_with_out_of_range_epochs_is_refused_on_the_field(client_for, data_manager):
    response = client_for(data_manager).post(reverse("training_start"), {"epochs": "0"})
    assert response.status_code == 400
    assert response.context["form"].errors["epochs"]
    assert not TrainingRun.objects.exists()


def test_data_manager_uploads_a_file_and_sees_its_scoring_job(client_for, data_manager):
    upload = csv_upload([{"age": 40, "sex": "F", "TSH": 1.2, "TT4": 100}, {"age": 50, "sex": "M", "TSH": "oops"}])
    client = client_for(data_manager)
    response = client.post(reverse("scoring_start"), {"uploaded_file": upload, "mode": "store"})
    job = ScoringJob.objects.get()
    assert response["Location"] == reverse("scoring_detail", args=[job.pk])
    assert (job.accepted_rows, job.rejected_rows) == (1, 1)
    page = client.get(response["Location"]).content.decode()
    assert "Rejected rows" in page and "TSH" in page


def test_an_unreadable_upload_is_refused_with_the_reason_on_the_field(client_for, data_manager):
    upload = SimpleUploadedFile("bad.csv", b"just,some,columns\n1,2,3\n", content_type="text/csv")
    response = client_for(data_manager).post(reverse("scoring_start"), {"uploaded_file": upload, "mode": "store"})
    assert response.status_code == 400
    assert "header" in response.context["form"].errors["uploaded_file"][0]
    assert not ScoringJob.objects.exists()


def test_a_missing_upload_is_refused(client_for, data_manager):
    response = client_for(data_manager).post(reverse("scoring_start"), {})
    assert response.status_code == 400
    assert response.context["form"].errors["uploaded_file"]


def test_progress_endpoint_reports_the_live_fields_of_the_asked_jobs(client_for, data_manager):
    running = TrainingRun.objects.create(status=JobStatus.RUNNING, progress=0.4, epoch=4, epochs=10, val_macro_f1=0.9)
    TrainingRun.objects.create(status=JobStatus.QUEUED)
    data = client_for(data_manager).get(reverse("training_progress") + f"?ids={running.pk},x").json()
    assert data == {
        "jobs": [
            {
                "id": running.pk,
                "status": "running",
                "status_label": "running",
                "progress": 0.4,
                "message": "",
                "finished_at": None,
                "epoch": 4,
                "epochs": 10,
                "val_macro_f1": 0.9,
                "result_version_id": None,
                "done": False,
            }
        ]
    }


def test_scoring_progress_reports_row_counts(client_for, data_manager):
    job = ScoringJob.objects.create(status=JobStatus.SUCCEEDED, progress=1.0, total_rows=5, scored_rows=5)
    [row] = client_for(data_manager).get(reverse("scoring_progress") + f"?ids={job.pk}").json()["jobs"]
    assert (row["status"], row["scored_rows"], row["done"]) == ("succeeded", 5, True)


def test_job_lists_carry_what_the_progress_script_needs(client_for, data_manager):
    run = TrainingRun.objects.create(status=JobStatus.RUNNING, progress=0.25)
    html = client_for(data_manager).get(reverse("training_list")).content.decode()
    assert f'data-job-id="{run.pk}" data-status="running"' in html
    assert f'data-progress-url="{reverse("training_progress")}"' in html
    assert 'value="0.250000"' in html and "js/jobs.js" in html


def test_results_download_is_404_until_the_job_has_results(client_for, data_manager):
    job = ScoringJob.objects.create()
    assert client_for(data_manager).get(reverse("scoring_results", args=[job.pk])).status_code == 404


def test_training_detail_carries_its_epoch_history_for_the_chart(client_for, data_manager):
    history = [{"epoch": 1, "epochs": 2, "loss": 0.9, "val_loss": 0.8, "val_macro_f1": 0.6}]
    run = TrainingRun.objects.create(status=JobStatus.RUNNING, epoch=1, epochs=2, history=history)
    html = client_for(data_manager).get(reverse("training_detail", args=[run.pk])).content.decode()
    start = html.index('<script id="training-data" type="application/json">')
    charts = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert charts["fit"] == history and charts["cv"] == []


def training_history(fit_losses, cv_folds):
    """A history as mlcore.train.train_model reports it: the fit of the model kept, then the out-of-fold models."""
    fit = [
        {"stage": "fit", "epoch": e, "epochs": 50, "loss": 1 / e, "val_loss": v, "val_macro_f1": 0.5 + e / 10}
        for e, v in enumerate(fit_losses, start=1)
    ]
    cv = [
        {"stage": "cv", "fold": fold, "epoch": e, "epochs": 50, "loss": 0.4 / e, "val_loss": v, "val_macro_f1": 0.7}
        for fold, losses in enumerate(cv_folds)
        for e, v in enumerate(losses, start=1)
    ]
    return fit + cv


def test_training_detail_splits_the_kept_model_and_the_out_of_fold_models_each_counted_from_one(
    client_for, data_manager
):
    history = training_history([0.9, 0.5, 0.6, 0.7], [[0.8, 0.4, 0.45], [0.7, 0.6, 0.5, 0.55, 0.6]])
    run = TrainingRun.objects.create(status=JobStatus.SUCCEEDED, epoch=5, epochs=50, history=history)
    response = client_for(data_manager).get(reverse("training_detail", args=[run.pk]))
    stages = response.context["stages"]
    assert [row["epoch"] for row in stages["fit"]] == [1, 2, 3, 4]
    assert [(fold["fold"], fold["epochs"], fold["best_epoch"]) for fold in stages["cv"]] == [(1, 3, 2), (2, 5, 3)]
    assert [row["epoch"] for row in stages["cv"][1]["rows"]] == [1, 2, 3, 4, 5]
    assert (stages["fit_epochs"], stages["max_epochs"], stages["best_epoch"], stages["cv_folds"]) == (4, 50, 2, 2)
    html = response.content.decode()
    assert "4 epochs (at most 50)" in html and "2 folds, 3–5 epochs each" in html
    assert 'id="chart-training"' in html and "js/charts.js" in html
    french = client_for(data_manager).get(reverse("training_detail", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="fr")
    assert "2 plis, 3–5 époques chacun" in french.content.decode()


def test_results_download_serves_the_file_and_is_audited(client_for, data_manager, settings, tmp_path):
    from django.core.files.base import ContentFile

    from diagnostics.models import AuditEvent

    settings.MEDIA_ROOT = tmp_path
    job = ScoringJob.objects.create(status=JobStatus.SUCCEEDED)
    job.result_file.save("results.csv", ContentFile(b"TSH,predicted_class\n45,hypothyroid\n"))
    response = client_for(data_manager).get(reverse("scoring_results", args=[job.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"TSH,predicted_class")
    assert "attachment" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="scoring_job.download", object_id=str(job.pk)).exists()
