"""Patients and panels through the API: filters, search, pagination, soft delete, audit trail, scoring on create."""

import pytest
from django.utils import timezone

from diagnostics.models import AuditEvent, LabPanel, Prediction
from tests.api_builders import HYPO_PANEL, api, make_panel, make_patient, make_prediction, make_version, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(clinician):
    return token_client(clinician)


def record_numbers(response) -> list[str]:
    return [p["record_number"] for p in response.json()["results"]]


def test_list_hides_soft_deleted_patients_and_filters_by_sex_and_search(machine):
    make_patient("MRN-100", sex="F")
    make_patient("MRN-200", sex="M")
    make_patient("XYZ-300", sex="F")
    make_patient("MRN-GONE", sex="F", deleted_at=timezone.now())
    assert record_numbers(machine.get("/api/v1/patients/")) == ["MRN-100", "MRN-200", "XYZ-300"]
    assert record_numbers(machine.get("/api/v1/patients/?sex=F")) == ["MRN-100", "XYZ-300"]
    assert record_numbers(machine.get("/api/v1/patients/?search=mrn")) == ["MRN-100", "MRN-200"]
    assert record_numbers(machine.get("/api/v1/patients/?record_number=XYZ-300")) == ["XYZ-300"]


def test_lists_are_paginated(machine):
    for i in range(5):
        make_patient(f"MRN-{i}")
    page = machine.get("/api/v1/patients/?page_size=2&page=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert page["next"] and page["previous"]


def test_a_soft_deleted_patient_is_404_everywhere(machine):
    gone = make_patient("MRN-GONE", deleted_at=timezone.now())
    for url in (f"/api/v1/patients/{gone.pk}/", f"/api/v1/patients/{gone.pk}/panels/"):
        assert machine.get(url).status_code == 404
    assert api(machine, "patch", f"/api/v1/patients/{gone.pk}/", {"notes": "x"}).status_code == 404


def test_viewing_a_patient_is_recorded_in_the_audit_trail(machine, clinician):
    patient = make_patient()
    assert machine.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="patient.view")
    assert event.actor == clinician and event.object_id == str(patient.pk)
    assert "MRN" not in str(event.details)


def test_create_and_update_a_patient_are_audited_without_identifying_values(machine):
    created = api(machine, "post", "/api/v1/patients/", {"record_number": "MRN-NEW", "sex": "M"})
    assert created.status_code == 201
    pk = created.json()["id"]
    changes = {"notes": "thyroid clinic", "date_of_birth": "1970-03-15"}
    updated = api(machine, "patch", f"/api/v1/patients/{pk}/", changes)
    assert updated.status_code == 200 and updated.json()["date_of_birth"] == "1970-03-15"
    event = AuditEvent.objects.get(action="patient.update")
    assert event.details["fields"] == ["date_of_birth", "notes"]
    assert "thyroid clinic" not in str(event.details)
    assert AuditEvent.objects.filter(action="patient.create", object_id=str(pk)).exists()


def test_panels_list_newest_first_with_their_latest_prediction(machine):
    patient = make_patient()
    old = make_panel(patient, collected_at=timezone.now() - timezone.timedelta(days=30))
    new = make_panel(patient, TSH=9.0)
    make_prediction(new, make_version("v-list"), "hypothyroid")
    results = machine.get(f"/api/v1/patients/{patient.pk}/panels/").json()["results"]
    assert [r["id"] for r in results] == [new.pk, old.pk]
    assert results[0]["prediction"]["predicted_class"] == "hypothyroid"
    assert results[1]["prediction"] is None


def test_a_new_panel_is_stored_and_scored_at_once(machine, active_version):
    patient = make_patient()
    body = {key: value for key, value in HYPO_PANEL.items() if key != "sex"}
    response = api(machine, "post", f"/api/v1/patients/{patient.pk}/panels/", {**body, "goitre": True})
    assert response.status_code == 201, response.content
    data = response.json()
    panel = LabPanel.objects.get(pk=data["id"])
    assert panel.patient == patient and panel.goitre is True and panel.source == LabPanel.Source.API
    assert data["prediction"]["model_version"] == active_version.version
    assert Prediction.objects.filter(panel=panel, model_version=active_version).exists()
    assert {"panel.create", "prediction.create"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_predictions_filter_by_patient_class_and_uncertainty(machine):
    first, second = make_patient("MRN-1"), make_patient("MRN-2")
    version = make_version("v-filter")
    hypo = make_prediction(make_panel(first), version, "hypothyroid")
    normal = make_prediction(make_panel(second), version, "normal")
    ids = lambda url: [p["id"] for p in machine.get(url).json()["results"]]  # noqa: E731
    assert ids(f"/api/v1/predictions/?patient={first.pk}") == [hypo.pk]
    assert ids("/api/v1/predictions/?predicted_class=normal") == [normal.pk]
    assert ids("/api/v1/predictions/?uncertain=true") == []
    assert ids("/api/v1/predictions/?model_version=v-filter") == [normal.pk, hypo.pk]
    detail = machine.get(f"/api/v1/predictions/{hypo.pk}/").json()
    assert detail["patient"] == first.pk and detail["probabilities"]["hypothyroid"] == pytest.approx(0.8)
