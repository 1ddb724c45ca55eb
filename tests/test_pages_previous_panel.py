"""The result page compares a panel with the patient's previous one, and the lab history chart's data carries
each point's class and outcome."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from diagnostics.selectors import lab_history_chart, patient_panels
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
COLLECTED = datetime(2026, 1, 5, 9, 30, tzinfo=PARIS)


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
