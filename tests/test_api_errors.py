"""Bad input gets a 4xx JSON body naming the field and the problem, never a 500 (validation runs before the model)."""

import json

import pytest

from diagnostics.models import LabPanel, Patient
from tests.api_builders import api, make_patient, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(clinician):
    return token_client(clinician)


def post_raw(client, url: str, data: str, content_type: str = "application/json"):
    return client.post(url, data, content_type=content_type)


@pytest.mark.parametrize("url", ["/api/v1/predict", "/api/v1/predict/bulk", "/api/v1/patients/", "/api/v1/fhir/Bundle"])
def test_malformed_json_is_a_400_naming_the_body(machine, url):
    response = post_raw(machine, url, '{"TSH": 4.5,')
    assert response.status_code == 400
    assert response.json()["errors"]["body"][0].startswith("JSON parse error")


@pytest.mark.parametrize("url", ["/api/v1/predict", "/api/v1/patients/"])
def test_a_form_body_is_refused_as_unsupported_media_type(machine, url):
    response = post_raw(machine, url, "TSH=4.5", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "Content-Type" in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"TSH": 1e999}', "TSH"),  # parses as infinity
        ('{"TT4": 1' + "0" * 400 + "}", "TT4"),  # an integer too large for a float
        ('{"T3": "4,5"}', "T3"),
        ('{"T4U": true}', "T4U"),
        ('{"age": [45]}', "age"),
        ('{"goitre": "yes"}', "goitre"),
        ('{"referral_source": null}', "referral_source"),
        ('{"shoe_size": 42}', "shoe_size"),
        ('{"store": "yes", "patient": "MRN-1"}', "store"),
        ('{"collected_at": "yesterday"}', "collected_at"),
        ('{"patient": 12345, "store": true}', "patient"),
    ],
)
def test_each_bad_value_is_a_400_naming_its_field(machine, body, field):
    response = post_raw(machine, "/api/v1/predict", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize("body", ["[]", '"TSH"', "null", "42"])
def test_a_body_that_is_not_an_object_is_a_400(machine, body):
    response = post_raw(machine, "/api/v1/predict", body)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_an_oversized_body_is_refused_with_413_before_it_is_read(machine, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_raw(machine, "/api/v1/predict", json.dumps({"TSH": 1.0, "pad": "x" * 2000}))
    assert response.status_code == 413
    assert "at most 1000" in response.json()["errors"]["detail"][0]


def test_a_bad_panel_for_a_patient_writes_nothing(machine):
    patient = make_patient()
    response = api(machine, "post", f"/api/v1/patients/{patient.pk}/panels/", {"TSH": 5000, "collected_at": "soon"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"TSH", "collected_at"}
    assert not LabPanel.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"record_number": ""}, "record_number"),
        ({"record_number": "x" * 65}, "record_number"),
        ({"record_number": "MRN-NEW", "sex": "Q"}, "sex"),
        ({"record_number": "MRN-NEW", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"record_number": "MRN-NEW", "date_of_birth": "15/03/1970"}, "date_of_birth"),
        ({"record_number": "MRN-NEW", "full_name": "Jane Doe"}, "full_name"),
        ({}, "record_number"),
    ],
)
def test_patient_creation_errors_name_the_field(machine, body, field):
    response = api(machine, "post", "/api/v1/patients/", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Patient.objects.exists()


def test_a_duplicate_record_number_is_a_400_naming_it(machine):
    make_patient("MRN-DUP")
    response = api(machine, "post", "/api/v1/patients/", {"record_number": "MRN-DUP"})
    assert response.status_code == 400
    assert "record_number" in response.json()["errors"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/predictions/?uncertain=perhaps", "uncertain"),
        ("/api/v1/predictions/?patient=abc", "patient"),
        ("/api/v1/predictions/?predicted_class=sick", "predicted_class"),
        ("/api/v1/patients/?sex=X", "sex"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(machine, url, field):
    response = machine.get(url)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "url", ["/api/v1/patients/?page=999", "/api/v1/patients/99999999999999999999/", "/api/v1/nope"]
)
def test_not_found_is_a_json_404(machine, url):
    response = machine.get(url)
    assert response.status_code == 404
    assert response.json()["errors"]["detail"]


def test_a_validation_error_raised_by_a_service_is_a_400_in_the_api_shape():
    from django.core.exceptions import ValidationError
    from rest_framework.test import APIRequestFactory

    from diagnostics.api.errors import exception_handler

    request = APIRequestFactory().get("/api/v1/patients/")
    by_field = exception_handler(ValidationError({"record_number": ["taken"]}), {"request": request, "view": None})
    plain = exception_handler(ValidationError("The file is empty."), {"request": request, "view": None})
    assert (by_field.status_code, by_field.data) == (400, {"errors": {"record_number": ["taken"]}})
    assert (plain.status_code, plain.data) == (400, {"errors": {"detail": ["The file is empty."]}})
