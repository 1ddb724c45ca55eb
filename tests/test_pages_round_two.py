"""Issue 15 on the server side: age from the date of birth (form, API, service), the previous-panel comparison,
24-hour dates per language, plain-language labels, styled and translated error and lockout pages."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from diagnostics.models import LabPanel, Patient
from diagnostics.selectors import lab_history_chart, patient_panels
from diagnostics.services.intake import age_at
from diagnostics.views.errors import server_error
from tests.api_builders import HYPO_PANEL, active_version, api, small_model_dir, token_client  # noqa: F401
from tests.conftest import PASSWORD
from tests.page_builders import make_panel, make_patient, make_prediction, make_version
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


# Date of birth and age ---------------------------------------------------------------------------


def test_age_is_counted_in_completed_years_on_the_collection_date():
    assert age_at(date(1960, 1, 6), COLLECTED) == 65  # birthday tomorrow
    assert age_at(date(1960, 1, 5), COLLECTED) == 66
    assert age_at(None, COLLECTED) is None
    assert age_at(date(2027, 1, 1), COLLECTED) is None  # born after the sample: no age


def test_the_lab_form_stores_the_date_of_birth_and_computes_the_age_left_empty(
    client_for,
    clinician,
    active_version,  # noqa: F811
):
    response = client_for(clinician).post(reverse("panel_create"), form_data(date_of_birth="1960-01-06"))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    patient = Patient.objects.get(record_number="MRN-DOB")
    assert patient.date_of_birth == date(1960, 1, 6)
    assert LabPanel.objects.get(patient=patient).age == 65


def test_a_typed_age_wins_over_the_date_of_birth(client_for, clinician, active_version):  # noqa: F811
    client_for(clinician).post(reverse("panel_create"), form_data(date_of_birth="1960-01-06", age="70"))
    assert LabPanel.objects.get(patient__record_number="MRN-DOB").age == 70


def test_a_known_patient_gets_a_date_of_birth_once_and_the_form_offers_it(
    client_for,
    clinician,
    active_version,  # noqa: F811
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


def test_an_api_panel_without_age_takes_it_from_the_patients_date_of_birth(clinician, active_version):  # noqa: F811
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


# The result page compares with the previous panel ------------------------------------------------


def test_the_result_page_shows_the_previous_panels_values_and_the_change(client_for, clinician):
    version = make_version()
    patient = make_patient()
    before = make_panel(patient, collected_at=COLLECTED - timedelta(days=60), TSH=2.0, TBG=None)
    make_prediction(before, version, "normal")
    panel = make_panel(patient, collected_at=COLLECTED, TSH=8.0, TT4=80.0)
    make_panel(patient, collected_at=COLLECTED + timedelta(days=30), TSH=50.0)  # later: not "previous"
    response = client_for(clinician).get(reverse("panel_detail", args=[panel.pk]))
    comparison = response.context["comparison"]
    assert comparison["panel"] == before
    tsh = next(change for change in comparison["changes"] if change.test.name == "TSH")
    assert (tsh.previous, tsh.current, tsh.difference, tsh.percent, tsh.direction) == (2.0, 8.0, 6.0, 300.0, "up")
    assert "TBG" not in [change.test.name for change in comparison["changes"]]
    html = response.content.decode()
    assert 'id="comparison"' in html and "+6 (+300 %)" in html and "−24 (−23 %)" in html  # TT4 104 -> 80


def test_the_first_panel_says_there_is_nothing_to_compare(client_for, clinician):
    panel = make_panel(make_patient())
    html = client_for(clinician).get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert 'id="no-previous"' in html and 'id="comparison"' not in html


def test_the_history_chart_data_carries_each_points_class_and_outcome():
    version = make_version()
    patient = make_patient()
    scored = make_panel(patient, collected_at=COLLECTED, TSH=45.0)
    make_prediction(scored, version, "hypothyroid")
    make_panel(patient, collected_at=COLLECTED + timedelta(days=1), TSH=1.0)
    points = lab_history_chart(patient_panels(patient))["TSH"]["points"]
    assert [(p["y"], p["cls"], p["outcome"]) for p in points] == [(45.0, "hypothyroid", "assessed"), (1.0, "", "")]


# Dates, labels ---------------------------------------------------------------------------------------


def test_dates_are_24_hour_in_the_languages_format(client_for, clinician):
    panel = make_panel(make_patient(), collected_at=datetime(2026, 1, 5, 21, 30, tzinfo=PARIS))
    client = client_for(clinician)
    english = client.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "2026-01-05 21:30" in english and "p.m." not in english
    assert "05/01/2026 21:30" in french(client).get(reverse("panel_detail", args=[panel.pk])).content.decode()


def test_flags_and_referral_sources_read_in_plain_language_on_pages_and_stay_codes_in_the_api(client_for, clinician):
    panel = make_panel(make_patient(), psych=True, query_hypothyroid=True, referral_source="SVHC")
    client = client_for(clinician)
    html = client.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "Psychiatric condition" in html and "Hypothyroidism suspected by the referrer" in html
    assert "Referring centre SVHC" in html
    form = client.get(reverse("panel_create")).content.decode()
    assert "Psychiatric condition" in form and ">Referring centre SVHC<" in form and 'value="SVHC"' in form
    data = client.get(f"/api/v1/patients/{panel.patient_id}/panels/").json()["results"][0]
    assert data["referral_source"] == "SVHC" and data["psych"] is True


# Error and lockout pages ----------------------------------------------------------------------------


def test_the_404_page_is_styled_translated_and_has_the_navigation(client_for, clinician):
    response = french(client_for(clinician)).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page introuvable" in html and 'class="error-page"' in html and "thyroweb.css" in html
    assert "<nav aria-label=" in html and reverse("patient_list") in html


def test_the_403_page_is_styled_translated_and_has_the_navigation(client_for, no_role_user, clinician):
    response = french(client_for(no_role_user)).get(reverse("patient_list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Accès refusé" in html and 'class="error-page"' in html and "<nav aria-label=" in html


def test_the_500_page_keeps_the_navigation_and_falls_back_to_the_plain_page(clinician):
    request = RequestFactory().get("/")
    request.user = clinician
    request.session = {}
    with translation.override("en"):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html and reverse("patient_list") in html

    broken = RequestFactory().get("/")  # no user, no session: the navigation cannot be drawn
    broken.user = object()
    fallback = server_error(broken)
    assert fallback.status_code == 500


def test_the_lockout_page_is_styled_and_translated(client, clinician):
    french(client)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "clin", "password": "wrong-password"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Connexion bloquée" in html and 'class="error-page"' in html and "thyroweb.css" in html
    assert client.post(reverse("login"), {"username": "clin", "password": PASSWORD}).status_code == 429


def test_an_age_error_names_the_age_in_french(client_for, clinician):
    response = french(client_for(clinician)).post(reverse("panel_create"), form_data(age="130"))
    assert response.context["form"].errors["age"] == ["Âge 130 ans dépasse le maximum plausible de 120 ans."]
