"""Patient list (search in the record number, pages without counting, last result) and patient page (history, audit)."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from diagnostics.models import AuditEvent, Patient
from diagnostics.selectors import patient_page
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

pytestmark = pytest.mark.django_db


def test_list_shows_record_number_sex_age_and_last_result_class(client_for, clinician):
    version = make_version()
    patient = make_patient("MRN-0042", sex="M")
    old = make_panel(patient, collected_at=timezone.now() - timedelta(days=30), age=60)
    new = make_panel(patient, age=61, TSH=40)
    make_prediction(old, version, "normal")
    make_prediction(new, version, "hypothyroid", uncertain=True)
    response = client_for(clinician).get(reverse("patient_list"))
    row = response.context["page"].rows[0]
    assert (row.patient.record_number, row.age, row.last_class, row.last_uncertain) == (
        "MRN-0042",
        61,
        "hypothyroid",
        True,
    )
    html = response.content.decode()
    assert "MRN-0042" in html and "male" in html and "hypothyroid" in html


def test_search_matches_any_part_of_the_record_number():
    for number in ("ABC-1", "ABC-2", "XABC-3", "UCI-840801013", "UCI-1"):
        make_patient(number)
    assert [r.patient.record_number for r in patient_page(query="ABC").rows] == ["ABC-1", "ABC-2", "XABC-3"]
    assert [r.patient.record_number for r in patient_page(query="8408").rows] == ["UCI-840801013"]
    assert [r.patient.record_number for r in patient_page(query="0801").rows] == ["UCI-840801013"]


def test_lower_case_search_finds_upper_case_record_numbers():
    make_patient("UCI-840801013")
    page = patient_page(query="uci-84")
    assert [r.patient.record_number for r in page.rows] == ["UCI-840801013"]


def test_pages_follow_each_other_without_counting_the_table(client_for, clinician, django_assert_max_num_queries):
    Patient.objects.bulk_create([Patient(record_number=f"P-{i:03d}") for i in range(120)])
    first = patient_page(number=1)
    third = patient_page(number=3)
    assert first.has_next and not first.has_previous and len(first.rows) == 50
    assert not third.has_next and len(third.rows) == 20
    assert third.rows[0].patient.record_number == "P-100"
    client = client_for(clinician)
    client.get(reverse("patient_list"))  # session and user loaded once
    with django_assert_max_num_queries(12) as captured:
        client.get(reverse("patient_list") + "?page=2")
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_bad_page_numbers_fall_back_to_the_first_page(client_for, clinician):
    make_patient()
    response = client_for(clinician).get(reverse("patient_list") + "?page=abc")
    assert response.status_code == 200 and response.context["page"].number == 1


def test_deleted_patients_are_hidden_from_list_and_page(client_for, clinician):
    gone = make_patient("MRN-GONE", deleted_at=timezone.now())
    client = client_for(clinician)
    assert "MRN-GONE" not in client.get(reverse("patient_list")).content.decode()
    assert client.get(reverse("patient_detail", args=[gone.pk])).status_code == 404


def test_patient_page_is_recorded_in_the_audit_trail(client_for, clinician):
    patient = make_patient()
    client_for(clinician).get(reverse("patient_detail", args=[patient.pk]))
    event = AuditEvent.objects.get(action="patient.view")
    assert (event.actor, event.object_type, event.object_id) == (clinician, "patient", str(patient.pk))
    assert "MRN" not in json.dumps(event.details)


def test_patient_page_has_each_lab_history_with_its_reference_interval(client_for, clinician):
    version = make_version()
    patient = make_patient()
    first = make_panel(patient, collected_at=timezone.now() - timedelta(days=10), TSH=2.0)
    second = make_panel(patient, TSH=9.5, TBG=None)
    make_prediction(second, version, "hypothyroid")
    response = client_for(clinician).get(reverse("patient_detail", args=[patient.pk]))
    history = response.context["history"]
    assert [p["y"] for p in history["TSH"]["points"]] == [2.0, 9.5]
    assert history["TSH"]["reference"] == [0.27, 4.2]
    assert history["TBG"]["points"] == []
    html = response.content.decode()
    assert 'id="lab-history"' in html and 'id="chart-TSH"' in html
    assert reverse("panel_detail", args=[first.pk]) in html
    assert "80 %" in html  # the prediction's probability beside its panel, as a percentage
    assert "<script>" not in html.replace("<script src=", "")  # no inline script (CSP)


def test_patient_page_shows_each_panels_outcome_and_no_class_when_not_assessed(client_for, clinician):
    version = make_version()
    patient = make_patient("MRN-OUT")
    make_prediction(make_panel(patient, TSH=None, collected_at=timezone.now() - timedelta(days=2)), version,
                    outcome="not_assessed")  # fmt: skip
    make_prediction(make_panel(patient, TSH=0.01, TT4=17.0), version, "normal", uncertain=True)
    html = client_for(clinician).get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert html.count('data-outcome="not_assessed"') == 1 and html.count('data-outcome="refer"') == 1
    assert "TSH was not measured" in html and "Low confidence: top probability 80 % below the threshold 90 %" in html
    listed = client_for(clinician).get(reverse("patient_list")).content.decode()
    assert '<span class="badge uncertain refer">' in listed  # the latest panel's outcome on the list
