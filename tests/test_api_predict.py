"""POST /api/v1/predict and /api/v1/predict/bulk: shape of the answer, storing, validation, limits."""

import os
import subprocess
import sys

import pytest

from diagnostics.models import AuditEvent, LabPanel, Patient, Prediction
from tests.api_builders import HYPO_PANEL, NORMAL_PANEL, api, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(clinician, active_version):
    return token_client(clinician)


def test_predict_answers_class_probabilities_explanation_and_version_without_storing(
    machine,
    active_version,
):
    response = api(machine, "post", "/api/v1/predict", HYPO_PANEL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["predicted_class"] in ("normal", "hyperthyroid", "hypothyroid")
    assert set(body["probabilities"]) == {"normal", "hyperthyroid", "hypothyroid"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert isinstance(body["uncertain"], bool)
    assert body["explanation"] and all("text" in item for item in body["explanation"])
    assert body["model_version"] == active_version.version
    assert LabPanel.objects.count() == 0 and Prediction.objects.count() == 0


def test_a_very_high_tsh_is_more_hypothyroid_than_a_normal_panel(machine):
    high = api(machine, "post", "/api/v1/predict", HYPO_PANEL).json()
    normal = api(machine, "post", "/api/v1/predict", NORMAL_PANEL).json()
    assert high["probabilities"]["hypothyroid"] > normal["probabilities"]["hypothyroid"]
    assert normal["predicted_class"] == "normal"


def test_missing_values_mean_not_measured(machine):
    response = api(machine, "post", "/api/v1/predict", {"TSH": 2.0, "T3": None})
    assert response.status_code == 200, response.content


def test_predict_with_a_patient_stores_patient_panel_and_prediction(machine, clinician):
    body = {**HYPO_PANEL, "patient": "MRN-77", "collected_at": "2024-05-01T08:30:00Z"}
    response = api(machine, "post", "/api/v1/predict", body)
    assert response.status_code == 201, response.content
    body = response.json()
    patient = Patient.objects.get(record_number="MRN-77")
    panel = LabPanel.objects.get(pk=body["panel_id"])
    prediction = Prediction.objects.get(pk=body["prediction_id"])
    assert body["patient_id"] == patient.pk and panel.patient == patient
    assert panel.source == LabPanel.Source.API and panel.TSH == 45.0 and panel.collected_at.year == 2024
    assert prediction.panel == panel and prediction.predicted_class == body["predicted_class"]
    assert prediction.requested_by == clinician
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"patient.create", "panel.create", "prediction.create"} <= actions


def test_store_false_with_a_patient_stores_nothing(machine):
    response = api(machine, "post", "/api/v1/predict", {**NORMAL_PANEL, "patient": "MRN-78", "store": False})
    assert response.status_code == 200
    assert not Patient.objects.exists()


def test_store_without_a_patient_is_refused_naming_the_field(machine):
    response = api(machine, "post", "/api/v1/predict", {**NORMAL_PANEL, "store": True})
    assert response.status_code == 400
    assert "patient" in response.json()["errors"]


def test_every_invalid_field_is_reported_and_nothing_is_stored(machine):
    response = api(
        machine,
        "post",
        "/api/v1/predict",
        {"TSH": 1200, "T3": "high", "age": -3, "sex": "X", "goitre": "maybe", "colour": "red", "patient": "MRN-9"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"TSH", "T3", "age", "sex", "goitre", "colour"}
    assert errors["TSH"] == ["TSH 1200 mU/L is above the plausible maximum 1000 mU/L"]
    assert not Patient.objects.exists() and not LabPanel.objects.exists()


def test_unusual_but_plausible_values_are_accepted_with_a_warning(machine):
    response = api(machine, "post", "/api/v1/predict", {**NORMAL_PANEL, "TT4": 500.0})
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert any(w["code"] == "value_unusual" and w["params"]["field"] == "TT4" for w in warnings)
    assert any("TT4 500 nmol/L is unusually high" in w["message"] for w in warnings)


def test_bulk_predict_answers_each_panel_in_order_like_single_predict(machine):
    panels = [NORMAL_PANEL, HYPO_PANEL, {"TSH": 0.01, "T3": 6.0, "TT4": 250.0, "sex": "F", "age": 30}]
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": panels})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 3
    for panel, result in zip(panels, body["results"], strict=True):
        single = api(machine, "post", "/api/v1/predict", panel).json()
        assert result["predicted_class"] == single["predicted_class"]
        for name, p in single["probabilities"].items():
            assert result["probabilities"][name] == pytest.approx(p, abs=1e-5)  # float32 batches
    assert not LabPanel.objects.exists()


def test_bulk_predict_names_the_panel_and_field_of_each_error(machine):
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": [NORMAL_PANEL, {"TSH": -1}, "x"]})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"panels.1.TSH", "panels.2"}


@pytest.mark.parametrize("body", [{"panels": []}, {"panels": "all"}, {}, {"panels": [NORMAL_PANEL], "store": True}])
def test_bulk_predict_refuses_a_malformed_request(machine, body):
    response = api(machine, "post", "/api/v1/predict/bulk", body)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_bulk_predict_refuses_more_than_10000_panels_with_413(machine):
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": [{"TSH": 1.0}] * 10_001})
    assert response.status_code == 413
    assert "at most 10,000" in response.json()["errors"]["panels"][0]


@pytest.mark.slow
def test_bulk_predict_scores_10000_panels_in_one_response(machine):
    panels = [{**NORMAL_PANEL, "TSH": 0.1 + (i % 400) / 10} for i in range(10_000)]
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": panels})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10_000
    assert all(sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5) for r in results)


def test_the_web_process_scores_without_importing_tensorflow(small_model_dir):
    """The API's modules and the predictor load no TensorFlow/Keras (600 MB and seconds per process)."""
    script = (
        "import sys, django; django.setup(); import thyroweb.wsgi, diagnostics.api.urls;"
        "from mlcore.predictor import Predictor; from mlcore.schema import validate_panel;"
        f"Predictor.load({str(small_model_dir)!r}).predict([validate_panel({{'TSH': 45.0}})]);"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "thyroweb.settings"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_failure_while_scoring_leaves_nothing_half_written(clinician, tmp_path):
    """The model's files are gone: the request fails, and the patient and panel it began are rolled back."""
    from diagnostics.models import ModelVersion

    ModelVersion.objects.create(version="broken", status=ModelVersion.Status.ACTIVE, artefact_path=str(tmp_path))
    machine = token_client(clinician)
    machine.raise_request_exception = False
    response = api(machine, "post", "/api/v1/predict", {**HYPO_PANEL, "patient": "MRN-HALF"})
    assert response.status_code == 500
    assert not Patient.objects.exists() and not LabPanel.objects.exists() and not Prediction.objects.exists()
