"""Lab entry: validation through mlcore.schema (errors on their fields, nothing saved), French decimals,
existing or new patient, and a panel scored at once by the active model."""

import pytest
from django.urls import reverse
from django.utils import translation

from diagnostics.forms import LabPanelForm
from diagnostics.models import AuditEvent, LabPanel, Patient, Prediction
from tests.page_builders import make_patient, make_version

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = {
        "record_number": "MRN-0001",
        "sex": "F",
        "collected_at": "2026-11-20T09:30",
        "age": "52",
        "referral_source": "other",
        "TSH": "1.3",
        "T3": "2.0",
        "TT4": "104",
        "T4U": "0.96",
        "FTI": "108",
        "TBG": "",
    }
    data.update(overrides)
    return data


def test_implausible_tsh_is_refused_on_its_field_and_nothing_is_saved(client_for, clinician):
    make_patient()
    response = client_for(clinician).post(reverse("panel_create"), form_data(TSH="1200"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["TSH"] == ["TSH 1200 mU/L is above the plausible maximum 1000 mU/L."]
    assert LabPanel.objects.count() == 0
    assert b"Nothing was saved" in response.content
    assert b'aria-describedby="id_TSH_error id_TSH_helptext"' in response.content
    assert b'<ul class="errorlist" id="id_TSH_error">' in response.content


def test_several_bad_values_are_all_reported_on_their_own_fields(client_for, clinician):
    make_patient()
    response = client_for(clinician).post(reverse("panel_create"), form_data(T3="-1", T4U="abc", age="130"))
    errors = response.context["form"].errors
    assert "negative" in errors["T3"][0]
    assert errors["T4U"] == ["T4U “abc” is not a number."]
    assert "above the plausible maximum 120" in errors["age"][0]
    assert LabPanel.objects.count() == 0


def test_unknown_record_number_is_refused_unless_new_patient_is_ticked(client_for, clinician):
    response = client_for(clinician).post(reverse("panel_create"), form_data(record_number="NOBODY"))
    assert "tick “new patient”" in response.context["form"].errors["record_number"][0]
    assert not Patient.objects.exists()


def test_new_patient_cannot_reuse_an_existing_record_number(client_for, clinician):
    make_patient()
    response = client_for(clinician).post(reverse("panel_create"), form_data(new_patient="on"))
    assert "already has this record number" in response.context["form"].errors["record_number"][0]


def test_a_deleted_patient_cannot_receive_panels(client_for, clinician):
    from django.utils import timezone

    make_patient(deleted_at=timezone.now())
    response = client_for(clinician).post(reverse("panel_create"), form_data())
    assert "deleted patient" in response.context["form"].errors["record_number"][0]


def test_french_decimal_commas_parse_when_the_language_is_french():
    make_patient()
    with translation.override("fr"):
        form = LabPanelForm(form_data(TSH="4,5", T4U="0,96", T3="2.1"))
        assert form.is_valid(), form.errors
    assert form.panel.values["TSH"] == 4.5
    assert form.panel.values["T4U"] == 0.96
    assert form.panel.values["T3"] == 2.1


def test_a_decimal_comma_is_accepted_in_english_too():
    make_patient()
    with translation.override("en"):
        form = LabPanelForm(form_data(TSH="0,9", T4U="0.96", age="61,5"))
        assert form.is_valid(), form.errors
    assert form.panel.values["TSH"] == 0.9
    assert form.panel.values["age"] == 61.5


def test_a_value_with_two_commas_is_refused_with_the_field_named():
    make_patient()
    with translation.override("en"):
        form = LabPanelForm(form_data(TSH="4,5,1"))
        assert not form.is_valid()
    assert form.errors["TSH"] == ["TSH “4,5,1” is not a number."]


def test_results_below_the_detection_limit_are_accepted_as_their_bound():
    make_patient()
    form = LabPanelForm(form_data(TSH="<0.005"))
    assert form.is_valid(), form.errors
    assert form.panel.values["TSH"] == 0.005


def test_lab_fields_show_unit_and_reference_interval(client_for, clinician):
    response = client_for(clinician).get(reverse("panel_create"))
    html = response.content.decode()
    assert "mU/L; reference 0.27–4.2" in html
    assert "nmol/L; reference 64–144" in html
    assert 'for="id_TSH"' in html and 'inputmode="decimal"' in html


def test_form_is_prefilled_for_a_patient_opened_from_the_patient_page(client_for, clinician):
    patient = make_patient(record_number="MRN-PREFILL")
    response = client_for(clinician).get(reverse("panel_create") + f"?patient={patient.pk}")
    assert response.context["form"].initial["record_number"] == "MRN-PREFILL"


def test_when_the_model_cannot_score_nothing_is_saved(client_for, clinician):
    make_patient()
    make_version("broken", artefact_path="/nonexistent/model")
    response = client_for(clinician).post(reverse("panel_create"), form_data())
    assert response.status_code == 200
    assert "could not be scored" in response.content.decode()
    assert LabPanel.objects.count() == 0
    assert not AuditEvent.objects.filter(action="panel.create").exists()


@pytest.mark.slow
def test_saving_a_panel_scores_it_and_shows_the_explained_prediction(
    client_for, clinician, active_version
):  # (fixture)
    make_patient()
    client = client_for(clinician)
    response = client.post(reverse("panel_create"), form_data(TSH="45", TT4="40", FTI="42", T4U="0.95"))
    panel = LabPanel.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("panel_detail", args=[panel.pk])
    prediction = Prediction.objects.get(panel=panel)
    assert prediction.model_version == active_version
    assert prediction.predicted_class == "hypothyroid"
    page = client.get(response["Location"]).content.decode()
    assert 'id="predicted-class">hypothyroid' in page
    assert "pushed towards" in page
    assert "decision aid" in page.lower()
    assert page.count("<progress") == 3
    assert "SPINA-GT" in page


def test_a_new_patient_is_created_with_the_panel(client_for, clinician, active_version):  # (fixture)
    client_for(clinician).post(reverse("panel_create"), form_data(record_number="MRN-NEW", new_patient="on", sex="M"))
    patient = Patient.objects.get(record_number="MRN-NEW")
    assert patient.sex == "M"
    assert patient.panels.count() == 1
    assert AuditEvent.objects.filter(action="patient.create", object_id=str(patient.pk)).exists()


def test_french_entry_saves_the_comma_value(client_for, clinician, active_version):  # (fixture)
    make_patient()
    client = client_for(clinician)
    client.cookies["django_language"] = "fr"
    response = client.post(reverse("panel_create"), form_data(TSH="4,5"), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 302
    assert LabPanel.objects.get().TSH == 4.5


def test_unusual_but_plausible_values_are_flagged_on_the_result_page(client_for, clinician):
    from tests.page_builders import make_panel

    panel = make_panel(make_patient(), TT4=500.0, T4U=2.5, FTI=200.0)
    html = client_for(clinician).get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "TT4 500 nmol/L is unusually high (above 363 nmol/L): please check it." in html
    assert "T4U 2.5 is unusually high (above 2): please check it." in html


def test_a_ratio_without_unit_reads_cleanly_in_its_error():
    make_patient()
    form = LabPanelForm(form_data(T4U="6"))
    assert not form.is_valid()
    assert form.errors["T4U"] == ["T4U 6 is above the plausible maximum 5."]
