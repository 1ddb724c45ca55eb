"""Dashboard: counts, class distribution, predictions per day, active model metrics, predictions to review."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from diagnostics.models import ModelVersion
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

pytestmark = pytest.mark.django_db


def test_dashboard_counts_classes_days_model_and_predictions_to_review(client_for, clinician):
    version = make_version("v-dash")
    make_version("v-cand", status=ModelVersion.Status.CANDIDATE)
    gone = make_patient("MRN-GONE", deleted_at=timezone.now())
    make_prediction(make_panel(gone), version, "hypothyroid", uncertain=True)
    patient = make_patient("MRN-DASH")
    for predicted, uncertain in (("normal", False), ("hypothyroid", True), ("hypothyroid", False)):
        make_prediction(make_panel(patient), version, predicted, uncertain=uncertain)
    response = client_for(clinician).get(reverse("dashboard"))
    context = response.context
    assert context["counts"] == {"patients": 1, "panels": 4, "predictions": 4}
    assert [(d["class"], d["count"]) for d in context["distribution"]] == [
        ("normal", 1),
        ("hyperthyroid", 0),
        ("hypothyroid", 3),
    ]
    assert len(context["per_day"]) == 30 and context["per_day"][-1] == {
        "day": timezone.localdate().isoformat(),
        "count": 4,
    }
    assert context["active_version"] == version
    assert {m["key"]: m["value"] for m in context["headline"]}["recall_hyperthyroid"] == 0.91
    assert [p.panel.patient.record_number for p in context["needs_review"]] == ["MRN-DASH"]  # deleted patients hidden
    html = response.content.decode()
    start = html.index('<script id="dashboard-data" type="application/json">')
    data = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert data["distribution"][2] == {"class": "hypothyroid", "count": 3, "label": "hypothyroid"}
    assert "MRN-DASH" in html and "Macro-F1" in html


def test_dashboard_without_any_model_or_data(client_for, clinician):
    response = client_for(clinician).get(reverse("dashboard"))
    assert response.status_code == 200
    assert "No model version is active yet." in response.content.decode()
    assert response.context["recent_predictions"] == 0


def test_review_list_holds_referrals_and_not_assessed_panels_with_their_first_reason(client_for, clinician):
    version = make_version("v-review")
    patient = make_patient("MRN-REVIEW")
    make_prediction(make_panel(patient), version, "normal")  # assessed: not to review
    unit = {"field": "TT4", "value": 17.0, "unit": "nmol/L", "suspected_unit": "ug/dL", "factor": 12.87,
            "converted": 218.8}  # fmt: skip
    referred = make_prediction(
        make_panel(patient, TSH=0.01, TT4=17.0),
        version,
        outcome="refer",
        reasons=[{"code": "unit_suspected", "params": unit}, {"code": "low_confidence", "params": {}}],
    )
    not_assessed = make_prediction(make_panel(patient, TSH=None), version, outcome="not_assessed")

    response = client_for(clinician).get(reverse("dashboard"))

    assert response.context["needs_review"] == [not_assessed, referred]  # newest first
    html = response.content.decode()
    assert "Recent predictions that need review" in html
    assert "TT4 17 nmol/L looks like ug/dL: × 12.87 = 218.8 nmol/L — check the unit." in html
    assert "TSH was not measured" in html and "the top probability is below" not in html  # first reason only
    assert response.context["counts"]["predictions"] == 3
