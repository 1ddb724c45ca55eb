"""Age from the date of birth: counted in completed years on the collection date, by the lab form, the API
and the service; a typed age wins; a date of birth after the sample is refused, in English and French."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from diagnostics.models import LabPanel, Patient
from diagnostics.services.intake import age_at
from tests.api_builders import HYPO_PANEL, api, token_client
from tests.page_builders import make_patient
from tests.test_pages_lab_entry import form_data as lab_form_data

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
COLLECTED = datetime(2026, 1, 5, 9, 30, tzinfo=PARIS)


def french(client):
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    return client


def form_data(**overrides) -> dict:
    """A new patient's panel collected on 5 January 2026 at 09:30, without an age."""
    fields = {"record_number": "MRN-DOB", "new_patient": "on", "collected_at": "2026-01-05T09:30", "age": ""}
    return lab_form_data(**{**fields, **overrides})


def test_age_is_counted_in_completed_years_on_the_collection_date():
    assert age_at(date(1960, 1, 6), COLLECTED) == 65  # birthday tomorrow
    assert age_at(date(1960, 1, 5), COLLECTED) == 66
    assert age_at(None, COLLECTED) is None
    assert age_at(date(2027, 1, 1), COLLECTED) is None  # born after the sample: no age


def test_the_lab_form_stores_the_date_of_birth_and_computes_the_age_left_empty(
    client_for,
    clinician,
    active_version,
):
    response = client_for(clinician).post(reverse("panel_create"), form_data(date_of_birth="1960-01-06"))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    patient = Patient.objects.get(record_number="MRN-DOB")
    assert patient.date_of_birth == date(1960, 1, 6)
    assert LabPanel.objects.get(patient=patient).age == 65


def test_a_typed_age_wins_over_the_date_of_birth(client_for, clinician, active_version):
    client_for(clinician).post(reverse("panel_create"), form_data(date_of_birth="1960-01-06", age="70"))
    assert LabPanel.objects.get(patient__record_number="MRN-DOB").age == 70


def test_a_known_patient_gets_a_date_of_birth_once_and_the_form_offers_it(
    client_for,
    clinician,
    active_version,
):
    patient = make_patient("MRN-DOB")
    client = client_for(clinician)
    client.post(reverse("panel_create"), form_data(new_patient="", date_of_birth="1950-06-01"))
    patient.refresh_from_db()
    assert patient.date_of_birth == date(1950, 6, 1)
    assert LabPanel.objects.get(patient=patient).age == 75
    html = client.get(reverse("panel_create"), {"patient": patient.pk}).content.decode()
    assert 'value="1950-06-01"' in html


def test_a_date_of_birth_after_the_sample_is_refused_with_the_field_named(client_for, clinician):
    response = client_for(clinician).post(reverse("panel_create"), form_data(date_of_birth="2026-02-01"))
    assert response.status_code == 200
    assert response.context["form"].errors["date_of_birth"] == ["The date of birth is after the collection date."]
    assert not Patient.objects.filter(record_number="MRN-DOB").exists()


def test_an_api_panel_without_age_takes_it_from_the_patients_date_of_birth(clinician, active_version):
    machine = token_client(clinician)
    created = api(machine, "post", "/api/v1/patients/", {"record_number": "MRN-API-DOB", "date_of_birth": "1980-03-01"})
    assert created.status_code == 201, created.content
    body = {key: value for key, value in HYPO_PANEL.items() if key not in ("sex", "age")}
    response = api(
        machine,
        "post",
        f"/api/v1/patients/{created.json()['id']}/panels/",
        {**body, "collected_at": "2026-01-05T09:30:00+01:00"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["age"] == 45


def test_an_age_error_names_the_age_in_french(client_for, clinician):
    response = french(client_for(clinician)).post(reverse("panel_create"), form_data(age="130"))
    assert response.context["form"].errors["age"] == ["Âge 130 ans dépasse le maximum plausible de 120 ans."]
