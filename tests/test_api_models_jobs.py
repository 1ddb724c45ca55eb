"""Model versions (activation by data managers), training runs and scoring jobs through the API."""

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from diagnostics.models import AuditEvent, JobStatus, ModelVersion, ScoringJob, TrainingRun
from tests.api_builders import api, make_version, token_client
from tests.job_builders import csv_text, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(data_manager):
    return token_client(data_manager)


def test_model_versions_list_with_metrics(manager):
    make_version("v-old", metrics={"macro_f1": 0.91})
    make_version("v-new", metrics={"macro_f1": 0.95})
    results = manager.get("/api/v1/model-versions/").json()["results"]
    assert {r["version"]: r["metrics"]["macro_f1"] for r in results} == {"v-old": 0.91, "v-new": 0.95}


def test_activation_without_a_comparison_is_refused_with_409_naming_override_reason(manager):
    make_version("v-active", status=ModelVersion.Status.ACTIVE)
    make_version("v-cand")
    response = api(manager, "post", "/api/v1/model-versions/v-cand/activate", {})
    assert response.status_code == 409
    assert "override reason" in response.json()["errors"]["override_reason"][0]
    assert ModelVersion.objects.get(version="v-active").status == ModelVersion.Status.ACTIVE


def test_a_data_manager_activates_with_an_override_reason_and_it_is_audited(manager, data_manager):
    make_version("v-active", status=ModelVersion.Status.ACTIVE)
    make_version("v-cand")
    response = api(manager, "post", "/api/v1/model-versions/v-cand/activate", {"override_reason": "validated offline"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert ModelVersion.objects.get(version="v-active").status == ModelVersion.Status.RETIRED
    event = AuditEvent.objects.get(action="model.activate")
    assert event.actor == data_manager and event.details["override_reason"] == "validated offline"


def test_activating_an_unknown_version_is_404(manager):
    assert api(manager, "post", "/api/v1/model-versions/nope/activate", {}).status_code == 404


def test_starting_a_training_run_queues_it_with_its_parameters(manager):
    response = api(manager, "post", "/api/v1/training-runs/", {"epochs": 3, "seed": 1})
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.params == {"epochs": 3, "seed": 1}
    status = manager.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert status["status"] in ("queued", "running", "succeeded", "failed") and "progress" in status


@pytest.mark.parametrize(
    ("body", "field"), [({"epochs": 0}, "epochs"), ({"data_file": "../../etc/passwd"}, "data_file")]
)
def test_a_bad_training_request_is_a_400_naming_the_field(manager, body, field):
    response = api(manager, "post", "/api/v1/training-runs/", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not TrainingRun.objects.exists()


def test_uploading_a_file_starts_a_scoring_job_with_row_counts(manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    text = csv_text([{"TSH": 1.3, "age": 40}, {"TSH": 45, "age": 61}, {"TSH": -4, "age": 30}])
    response = manager.post("/api/v1/scoring-jobs/", {"file": upload(text)})
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["total_rows"], body["accepted_rows"], body["rejected_rows"]) == (3, 2, 1)
    assert body["rejected"][0]["line"] == 4
    assert ScoringJob.objects.filter(pk=body["id"]).exists()


def test_an_unreadable_upload_is_a_400_naming_the_file(manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = manager.post("/api/v1/scoring-jobs/", {"file": upload(b"\xff\xfe\x00garbage")})
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not ScoringJob.objects.exists()


def test_results_of_a_finished_job_download_as_csv_and_404_before(manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = ScoringJob.objects.create(status=JobStatus.RUNNING)
    assert manager.get(f"/api/v1/scoring-jobs/{job.pk}/results").status_code == 404
    job.result_file.save("r.csv", ContentFile(b"TSH,predicted_class\n45,hypothyroid\n"))
    job.status = JobStatus.SUCCEEDED
    job.save()
    assert manager.get(f"/api/v1/scoring-jobs/{job.pk}/").json()["results_url"].endswith("/results")
    response = manager.get(f"/api/v1/scoring-jobs/{job.pk}/results")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content) == b"TSH,predicted_class\n45,hypothyroid\n"


def test_api_token_command_creates_refuses_a_second_and_revokes(clinician, capsys):
    call_command("api_token", "create", clinician.username)
    key = capsys.readouterr().out.strip()
    assert token_client_for_key(key).get("/api/v1/patients/").status_code == 200
    with pytest.raises(CommandError, match="already has an API token"):
        call_command("api_token", "create", clinician.username)
    call_command("api_token", "create", clinician.username, "--replace")
    assert token_client_for_key(key).get("/api/v1/patients/").status_code == 401
    call_command("api_token", "revoke", clinician.username)
    assert not Token.objects.filter(user=clinician).exists()
    assert {"api_token.create", "api_token.revoke"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_api_token_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "create", "ghost")


def token_client_for_key(key: str):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_an_admin_creates_and_deletes_api_tokens_in_the_admin(client_for, admin_user, clinician):
    admin = client_for(admin_user)
    assert admin.get("/admin/authtoken/tokenproxy/").status_code == 200
    response = admin.post("/admin/authtoken/tokenproxy/add/", {"user": clinician.pk})
    assert response.status_code == 302, response.content[:500]
    token = Token.objects.get(user=clinician)
    assert token_client_for_key(token.key).get("/api/v1/patients/").status_code == 200
    deleted = admin.post(f"/admin/authtoken/tokenproxy/{clinician.pk}/delete/", {"post": "yes"})  # keyed by user
    assert deleted.status_code == 302
    assert token_client_for_key(token.key).get("/api/v1/patients/").status_code == 401
