"""Who may call which endpoint: anonymous -> 401, no role -> 403, the right role gets through.

Calls whose success needs the model (predict, new panels, FHIR import) are
sent here with an invalid body: getting past the permission check shows as
the 400 of validation. Their successful calls are tested in their own modules.
"""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from diagnostics.models import ScoringJob, TrainingRun
from tests.api_builders import api, make_panel, make_patient, make_prediction, make_version, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    patient = make_patient()
    panel = make_panel(patient)
    version = make_version("test-v1")
    prediction = make_prediction(panel, version)
    run = TrainingRun.objects.create()
    job = ScoringJob.objects.create(status="succeeded")
    job.result_file.save("results.csv", ContentFile(b"TSH,predicted_class\n1.3,normal\n"))
    ids = {"patient": patient.pk, "prediction": prediction.pk, "run": run.pk, "job": job.pk}
    return {**ids, "version": version.version}


# (method, url template, body, role needed, status for a user with that role)
ENDPOINTS = [
    ("get", "/api/v1/schema/", None, "clinician", 200),
    ("get", "/api/v1/patients/", None, "clinician", 200),
    ("post", "/api/v1/patients/", {"record_number": "NEW-1"}, "clinician", 201),
    ("get", "/api/v1/patients/{patient}/", None, "clinician", 200),
    ("patch", "/api/v1/patients/{patient}/", {"notes": "seen"}, "clinician", 200),
    ("put", "/api/v1/patients/{patient}/", {"record_number": "MRN-API-1", "sex": "M"}, "clinician", 200),
    ("get", "/api/v1/patients/{patient}/panels/", None, "clinician", 200),
    ("post", "/api/v1/patients/{patient}/panels/", {"TSH": -1}, "clinician", 400),
    ("get", "/api/v1/patients/{patient}/fhir/", None, "clinician", 200),
    ("post", "/api/v1/fhir/Bundle", {"resourceType": "Patient"}, "clinician", 400),
    ("post", "/api/v1/predict", {"TSH": -1}, "clinician", 400),
    ("post", "/api/v1/predict/bulk", {"panels": [{"TSH": -1}]}, "clinician", 400),
    ("get", "/api/v1/predictions/", None, "clinician", 200),
    ("get", "/api/v1/predictions/{prediction}/", None, "clinician", 200),
    ("get", "/api/v1/model-versions/", None, "clinician", 200),
    ("get", "/api/v1/model-versions/{version}/", None, "clinician", 200),
    ("post", "/api/v1/model-versions/{version}/activate", {"override_reason": "test"}, "data_manager", 200),
    ("get", "/api/v1/training-runs/", None, "data_manager", 200),
    ("post", "/api/v1/training-runs/", {"epochs": 0}, "data_manager", 400),
    ("get", "/api/v1/training-runs/{run}/", None, "data_manager", 200),
    ("get", "/api/v1/scoring-jobs/", None, "data_manager", 200),
    ("get", "/api/v1/scoring-jobs/{job}/", None, "data_manager", 200),
    ("get", "/api/v1/scoring-jobs/{job}/results", None, "data_manager", 200),
]
IDS = [f"{method} {url}" for method, url, *_ in ENDPOINTS]


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), ENDPOINTS, ids=IDS)
def test_anonymous_gets_401_with_a_token_challenge(client, rows, method, url, body, role, expected):
    response = api(client, method, url.format(**rows), body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in json.loads(response.content)["errors"]


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), ENDPOINTS, ids=IDS)
def test_user_without_a_role_gets_403(client_for, no_role_user, rows, method, url, body, role, expected):
    response = api(client_for(no_role_user), method, url.format(**rows), body)
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), ENDPOINTS, ids=IDS)
def test_clinician_gets_clinician_endpoints_and_403_on_data_manager_ones(
    client_for, clinician, rows, method, url, body, role, expected
):
    response = api(client_for(clinician), method, url.format(**rows), body)
    assert response.status_code == (expected if role == "clinician" else 403), response.content


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), ENDPOINTS, ids=IDS)
def test_data_manager_with_a_token_gets_every_endpoint(data_manager, rows, method, url, body, role, expected):
    response = api(token_client(data_manager), method, url.format(**rows), body)
    assert response.status_code == expected, response.content


def test_swagger_ui_needs_a_login_and_is_served_without_a_cdn(client, client_for, clinician, no_role_user):
    anonymous = client.get("/api/v1/docs/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for(no_role_user).get("/api/v1/docs/").status_code == 403
    page = client_for(clinician).get("/api/v1/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "<script>" not in html  # no inline script: CSP-friendly
    script = client_for(clinician).get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()


def test_a_revoked_token_no_longer_authenticates(clinician):
    machine = token_client(clinician)
    assert machine.get("/api/v1/patients/").status_code == 200
    call_command("api_token", "revoke", clinician.username)
    assert machine.get("/api/v1/patients/").status_code == 401


def test_throttle_refuses_a_user_over_the_rate_with_429(settings, clinician):
    from django.core.cache import cache

    throttle_key = f"throttle_user_{clinician.pk}"
    cache.delete(throttle_key)  # not clear(): with Redis that would empty the broker's database
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/minute"}}
    machine = token_client(clinician)
    codes = [machine.get("/api/v1/model-versions/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = machine.get("/api/v1/model-versions/")
    assert "Retry-After" in refused and "detail" in refused.json()["errors"]
    cache.delete(throttle_key)
