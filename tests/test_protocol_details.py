"""Protocol details: invalid characters in a path are a 404; a job is refused at once while the broker is down."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from diagnostics.models import ScoringJob, TrainingRun
from tests.api_builders import api, token_client
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/model-versions/%00/", "/api/v1/patients/1%0A/", "/api/v1/predictions/%7F/"])
def test_a_control_character_in_an_api_path_is_a_json_404(clinician, path):
    response = token_client(clinician).get(path)
    assert response.status_code == 404
    assert response.json() == {"errors": {"detail": ["Not found."]}}


def test_a_nul_in_a_page_path_is_the_404_page(client_for, clinician):
    response = client_for(clinician).get("/models/%00/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.fixture
def broker_down(settings):
    """A broker URL where nothing listens: a real refused connection."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"


CSV = b"age,sex,TSH\n61,F,45\n"


def test_an_upload_while_the_broker_is_down_is_a_503_and_queues_nothing(data_manager, broker_down, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = token_client(data_manager).post(
        "/api/v1/scoring-jobs/", {"file": SimpleUploadedFile("panels.csv", CSV, content_type="text/csv")}
    )
    assert response.status_code == 503
    assert "job queue is unreachable" in response.json()["errors"]["detail"][0]
    assert response["Retry-After"]
    assert not ScoringJob.objects.exists()


def test_a_training_run_while_the_broker_is_down_is_a_503_and_queues_nothing(data_manager, broker_down):
    response = api(token_client(data_manager), "post", "/api/v1/training-runs/", {"epochs": 2})
    assert response.status_code == 503
    assert not TrainingRun.objects.exists()


def test_the_upload_page_says_the_queue_is_down(client_for, data_manager, broker_down, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("panels.csv", CSV, content_type="text/csv")
    response = client_for(data_manager).post(reverse("scoring_start"), {"uploaded_file": upload, "mode": "store"})
    assert response.status_code == 503
    assert "job queue is unreachable" in response.content.decode()
    assert not ScoringJob.objects.exists()


def test_readyz_names_the_broker_when_it_is_down(client, broker_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"] == "failed" and response.json()["database"] == "ok"
