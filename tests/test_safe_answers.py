"""Safe answers on every path that stores or scores a panel (lab form, API predict, API panel create, bulk
predict, CSV scoring job, FHIR import, bulk set-up scoring): a panel without any lab value is refused, a
partial panel is stored and answered, a total T4 typed in ug/dL is flagged and referred, and a panel
without TSH is stored with no class (not assessed)."""

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from diagnostics.models import LabPanel, Patient, Prediction
from diagnostics.services.bulk_writes import score_stored_panels
from diagnostics.services.scoring_jobs import process_scoring_job, result_csv_text, start_scoring_job
from mlcore import rules
from tests.api_builders import api, make_panel, make_patient, token_client
from tests.job_builders import csv_text, upload

pytestmark = pytest.mark.django_db

LABS_NAMED = "TSH, T3, TT4, T4U, FTI, TBG, FT4, FT3"
EMPTY = {"age": 50, "sex": "F"}
PARTIAL = {"age": 60, "sex": "F", "TSH": 45.0, "TT4": 40.0}  # what many labs send: TSH + total T4
UG_DL = {"age": 50, "sex": "F", "TSH": 0.01, "TT4": 17.0}  # 17 ug/dL = 218.8 nmol/L, typed as nmol/L
NO_TSH = {"age": 50, "sex": "F", "TT4": 100.0, "T3": 2.0}
UNIT_MESSAGE = "TT4 17 nmol/L looks like ug/dL: × 12.87 = 218.8 nmol/L — check the unit."
ANSWERED = ("assessed", "refer")


def codes(reasons) -> list[str]:
    return [reason["code"] for reason in reasons]


def assert_partial_answered(outcome: str, predicted_class, probabilities) -> None:
    assert outcome in ANSWERED
    assert predicted_class in ("normal", "hyperthyroid", "hypothyroid")
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-5)


def assert_unit_referred(outcome: str, reasons, warnings) -> None:
    assert outcome == "refer"
    assert "unit_suspected" in codes(reasons) and "unit_suspected" in codes(warnings)
    (warning,) = [w for w in warnings if w["code"] == "unit_suspected"]
    assert warning["params"]["field"] == "TT4" and warning["params"]["suspected_unit"] == "ug/dL"
    assert warning["params"]["converted"] == pytest.approx(218.8)


def assert_stored_not_assessed(prediction: Prediction) -> None:
    assert prediction.outcome == "not_assessed" and prediction.uncertain
    assert prediction.predicted_class == "" and prediction.probabilities is None
    assert codes(prediction.reasons) == ["tsh_missing"]


# --- The lab entry form ---


def form_data(values: dict, **extra) -> dict:
    data = {
        "record_number": "MRN-SAFE",
        "new_patient": "on",
        "sex": "F",
        "collected_at": "2026-11-20T09:30",
        "referral_source": "other",
        **{name: "" for name in ("TSH", "T3", "TT4", "T4U", "FTI", "TBG")},
    }
    data.update({key: str(value) for key, value in values.items() if key != "sex"})
    data.update(extra)
    return data


@pytest.fixture
def browser_user(client_for, clinician, active_version):
    return client_for(clinician)


def test_form_refuses_a_panel_without_any_lab_value_naming_the_lab_fields(browser_user):
    response = browser_user.post(reverse("panel_create"), form_data(EMPTY))
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors == [f"Enter at least one lab value ({LABS_NAMED}); TSH is needed for an assessment."]
    assert not LabPanel.objects.exists() and not Patient.objects.exists()


def test_form_stores_and_answers_a_partial_panel(browser_user):
    response = browser_user.post(reverse("panel_create"), form_data(PARTIAL))
    panel = LabPanel.objects.get()
    assert response.status_code == 302 and response.url == reverse("panel_detail", args=[panel.pk])
    prediction = Prediction.objects.get(panel=panel)
    assert_partial_answered(prediction.outcome, prediction.predicted_class, prediction.probabilities)
    assert (panel.T3, panel.FTI) == (None, None)


def test_form_asks_to_confirm_a_suspected_unit_then_stores_a_referral(browser_user):
    first = browser_user.post(reverse("panel_create"), form_data(UG_DL))
    assert first.status_code == 200 and not LabPanel.objects.exists()  # nothing saved yet
    html = first.content.decode()
    assert 'id="confirm-warnings"' in html and UNIT_MESSAGE in html and "I have checked these values" in html
    assert "Nothing was saved: please correct" not in html  # a question, not an error
    shown = re.search(r'name="warnings_shown" value="([0-9a-f]+)"', html).group(1)

    confirmed = browser_user.post(
        reverse("panel_create"), form_data(UG_DL, confirm_warnings="on", warnings_shown=shown)
    )
    panel = LabPanel.objects.get()
    assert confirmed.status_code == 302 and panel.TT4 == 17.0
    prediction = Prediction.objects.get(panel=panel)
    assert_unit_referred(prediction.outcome, prediction.reasons, prediction.warnings)

    page = browser_user.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert 'data-outcome="refer"' in page and UNIT_MESSAGE in page


def test_form_confirmation_counts_only_for_the_warnings_that_were_shown(browser_user):
    ticked_blind = browser_user.post(reverse("panel_create"), form_data(UG_DL, confirm_warnings="on"))
    assert ticked_blind.status_code == 200 and not LabPanel.objects.exists()
    shown = ticked_blind.context["form"].data["warnings_shown"]
    other_values = form_data({**UG_DL, "TT4": 12.0}, confirm_warnings="on", warnings_shown=shown)
    changed = browser_user.post(reverse("panel_create"), other_values)
    assert changed.status_code == 200 and not LabPanel.objects.exists()  # new values: shown again
    assert "TT4 12 nmol/L looks like ug/dL" in changed.content.decode()


def test_form_stores_a_panel_without_tsh_as_not_assessed(browser_user):
    response = browser_user.post(reverse("panel_create"), form_data(NO_TSH))
    assert response.status_code == 302
    prediction = Prediction.objects.get()
    assert_stored_not_assessed(prediction)
    page = browser_user.get(response.url).content.decode()
    assert 'data-outcome="not_assessed"' in page
    assert "TSH was not measured: the model needs TSH to assess a panel, so no class is given." in page
    assert 'class="probabilities"' not in page


# --- The API ---


@pytest.fixture
def machine(clinician, active_version):
    return token_client(clinician)


def test_api_refuses_an_empty_panel_on_every_path_naming_the_lab_fields(machine):
    patient = make_patient("MRN-EMPTY")
    for url, body, key in (
        ("/api/v1/predict", EMPTY, "labs"),
        ("/api/v1/predict", {**EMPTY, "patient": "MRN-NEW"}, "labs"),
        ("/api/v1/predict/bulk", {"panels": [PARTIAL, EMPTY]}, "panels.1.labs"),
        (f"/api/v1/patients/{patient.pk}/panels/", EMPTY, "labs"),
    ):
        response = api(machine, "post", url, body)
        assert response.status_code == 400, url
        (message,) = response.json()["errors"][key]
        assert LABS_NAMED in message and "TSH is needed" in message
    assert not LabPanel.objects.exists() and not Patient.objects.exclude(pk=patient.pk).exists()


def test_api_predict_answers_a_partial_panel(machine):
    body = api(machine, "post", "/api/v1/predict", PARTIAL).json()
    assert_partial_answered(body["outcome"], body["predicted_class"], body["probabilities"])
    assert body["uncertain"] is (body["outcome"] != "assessed")
    assert body["warnings"] == [] and body["pattern"]["code"]  # the guideline reading of TSH with TT4
    assert all(item["value"] is not None for item in body["explanation"])  # T3, FTI... not measured


def test_api_predict_flags_a_thyroxine_in_ug_per_dl_and_refers(machine):
    body = api(machine, "post", "/api/v1/predict", UG_DL).json()
    assert_unit_referred(body["outcome"], body["reasons"], body["warnings"])
    assert body["uncertain"] is True and body["predicted_class"] is not None  # refer: class still shown
    assert UNIT_MESSAGE in [w["message"] for w in body["warnings"]]


def test_api_predict_gives_no_class_without_tsh(machine):
    response = api(machine, "post", "/api/v1/predict", NO_TSH)
    assert response.status_code == 200
    body = response.json()
    assert (body["outcome"], body["predicted_class"], body["probabilities"], body["uncertain"]) == (
        "not_assessed",
        None,
        None,
        True,
    )
    assert body["reasons"] == [
        {
            "code": "tsh_missing",
            "params": {},
            "message": "TSH was not measured: the model needs TSH to assess a panel, so no class is given.",
        }
    ]
    assert body["explanation"] == []


def test_api_predict_with_a_patient_stores_each_kind_of_panel(machine):
    outcomes = {}
    for number, panel in (("MRN-P", PARTIAL), ("MRN-U", UG_DL), ("MRN-N", NO_TSH)):
        response = api(machine, "post", "/api/v1/predict", {**panel, "patient": number})
        assert response.status_code == 201, response.content
        body = response.json()
        stored = Prediction.objects.get(pk=body["prediction_id"])
        assert (stored.outcome, stored.predicted_class or None) == (body["outcome"], body["predicted_class"])
        outcomes[number] = body
    assert_partial_answered(outcomes["MRN-P"]["outcome"], outcomes["MRN-P"]["predicted_class"],
                            outcomes["MRN-P"]["probabilities"])  # fmt: skip
    assert_unit_referred(outcomes["MRN-U"]["outcome"], outcomes["MRN-U"]["reasons"], outcomes["MRN-U"]["warnings"])
    assert_stored_not_assessed(Prediction.objects.get(pk=outcomes["MRN-N"]["prediction_id"]))


def test_api_panel_create_stores_each_kind_of_panel_with_its_outcome(machine):
    patient = make_patient("MRN-PANELS")
    url = f"/api/v1/patients/{patient.pk}/panels/"
    partial, unit, no_tsh = (api(machine, "post", url, panel) for panel in (PARTIAL, UG_DL, NO_TSH))
    assert {partial.status_code, unit.status_code, no_tsh.status_code} == {201}
    prediction = partial.json()["prediction"]
    assert_partial_answered(prediction["outcome"], prediction["predicted_class"], prediction["probabilities"])
    prediction = unit.json()["prediction"]
    assert_unit_referred(prediction["outcome"], prediction["reasons"], prediction["warnings"])
    prediction = no_tsh.json()["prediction"]
    assert (prediction["outcome"], prediction["predicted_class"], prediction["probabilities"]) == (
        "not_assessed",
        None,
        None,
    )
    assert_stored_not_assessed(Prediction.objects.get(pk=prediction["id"]))
    listed = api(machine, "get", url).json()["results"]
    assert sorted(p["prediction"]["outcome"] for p in listed) == sorted(
        [partial.json()["prediction"]["outcome"], "refer", "not_assessed"]
    )
    not_assessed = api(machine, "get", "/api/v1/predictions/?outcome=not_assessed").json()["results"]
    assert [p["id"] for p in not_assessed] == [prediction["id"]]


def test_api_bulk_predict_gives_each_panel_its_outcome_in_order(machine):
    response = api(machine, "post", "/api/v1/predict/bulk", {"panels": [PARTIAL, UG_DL, NO_TSH]})
    assert response.status_code == 200, response.content
    partial, unit, no_tsh = response.json()["results"]
    assert_partial_answered(partial["outcome"], partial["predicted_class"], partial["probabilities"])
    assert_unit_referred(unit["outcome"], unit["reasons"], unit["warnings"])
    assert (no_tsh["outcome"], no_tsh["predicted_class"], no_tsh["probabilities"]) == ("not_assessed", None, None)
    assert codes(no_tsh["reasons"]) == ["tsh_missing"]
    assert not LabPanel.objects.exists()


def test_openapi_schema_documents_the_outcome_enum_and_the_reason_shape(machine):
    schema = machine.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    result = components["PredictionResult"]["properties"]
    assert result["outcome"]["allOf"] == [{"$ref": "#/components/schemas/OutcomeEnum"}]
    assert set(components["OutcomeEnum"]["enum"]) == {"assessed", "refer", "not_assessed"}
    reason = components["Reason"]
    assert set(reason["properties"]) == {"code", "params", "message"}
    assert reason["properties"]["code"]["allOf"] == [{"$ref": "#/components/schemas/ReasonCodeEnum"}]
    assert {*rules.REFERRAL_CODES, *rules.NOT_ASSESSED_CODES, *rules.WARNING_CODES} == set(
        components["ReasonCodeEnum"]["enum"]
    )
    assert result["reasons"]["items"] == {"$ref": "#/components/schemas/Reason"}
    for name in ("Prediction", "PredictResponse"):
        assert {"outcome", "reasons", "warnings", "pattern", "uncertain"} <= set(components[name]["properties"])


# --- CSV scoring jobs ---


def test_csv_job_rejects_an_empty_row_and_writes_each_outcome_with_its_codes(data_manager, active_version):
    rows = [PARTIAL, EMPTY, UG_DL, NO_TSH]
    job = start_scoring_job(user=data_manager, uploaded_file=upload(csv_text(rows)))
    assert (job.accepted_rows, job.rejected_rows) == (3, 1)
    (rejected,) = job.rejected
    assert rejected["line"] == 3 and LABS_NAMED in rejected["reason"]

    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)
    job.refresh_from_db()
    partial, unit, no_tsh = csv.DictReader(io.StringIO(result_csv_text(job)))
    assert [partial["line"], unit["line"], no_tsh["line"]] == ["2", "4", "5"]
    assert partial["outcome"] in ANSWERED and partial["predicted_class"] and partial["p_normal"]
    assert unit["outcome"] == "refer" and unit["uncertain"] == "true"
    assert "unit_suspected" in unit["reasons"].split(";") and unit["warnings"] == "unit_suspected"
    assert (no_tsh["outcome"], no_tsh["reasons"], no_tsh["predicted_class"]) == ("not_assessed", "tsh_missing", "")
    assert (no_tsh["p_normal"], no_tsh["p_hyperthyroid"], no_tsh["p_hypothyroid"]) == ("", "", "")

    stored = {p.panel.source_ref: p for p in Prediction.objects.select_related("panel")}
    assert_stored_not_assessed(stored[f"job{job.pk}:line5"])
    unit_prediction = stored[f"job{job.pk}:line4"]
    assert_unit_referred(unit_prediction.outcome, unit_prediction.reasons, unit_prediction.warnings)
    # TSH 0.01 with TT4 17 read as nmol/L: the reading's pattern, in the CSV and stored as a single score stores it
    assert unit["pattern"] == unit_prediction.pattern["code"] == "central_hypothyroidism_or_non_thyroidal_illness"


# --- FHIR import ---


FHIR_PATIENT = "urn:uuid:5a1f3c2e-1111-4c1b-9a7e-2f7f3c1d2a10"


def fhir_observation(code: str, value: float, unit: str) -> dict:
    quantity = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": FHIR_PATIENT},
            "effectiveDateTime": "2024-05-01T08:30:00Z",
            "valueQuantity": quantity,
        }
    }


def fhir_bundle(values: dict, *, number: str = "MRN-FHIR-SAFE") -> dict:
    """A transaction Bundle: the patient, an age Observation, and the panel's TSH, TT4 and T3 in SI units."""
    loinc = {"age": ("30525-0", "a"), "TSH": ("3016-3", "m[IU]/L"), "TT4": ("14921-1", "nmol/L"),
             "T3": ("14930-2", "nmol/L")}  # fmt: skip
    patient = {
        "fullUrl": FHIR_PATIENT,
        "resource": {"resourceType": "Patient", "identifier": [{"value": number}], "gender": "female"},
    }
    observations = [
        fhir_observation(code, values[name], unit) for name, (code, unit) in loinc.items() if name in values
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [patient, *observations]}


def fhir_import(machine, body):
    return machine.post("/api/v1/fhir/Bundle", json.dumps(body), content_type="application/fhir+json")


def test_fhir_import_refuses_a_bundle_without_any_lab_value(machine):
    response = fhir_import(machine, fhir_bundle(EMPTY))
    assert response.status_code == 400
    (message,) = response.json()["errors"]["labs"]
    assert LABS_NAMED in message
    assert not LabPanel.objects.exists() and not Patient.objects.exists()


def test_fhir_import_stores_each_kind_of_panel_and_exports_only_what_has_a_class(machine):
    results = {}
    for number, values in (("F-PARTIAL", PARTIAL), ("F-UNIT", UG_DL), ("F-NOTSH", NO_TSH)):
        response = fhir_import(machine, fhir_bundle(values, number=number))
        assert response.status_code == 201, response.content
        results[number] = response.json()
    prediction = results["F-PARTIAL"]["panels"][0]["prediction"]
    assert_partial_answered(prediction["outcome"], prediction["predicted_class"], prediction["probabilities"])
    prediction = results["F-UNIT"]["panels"][0]["prediction"]
    assert_unit_referred(prediction["outcome"], prediction["reasons"], prediction["warnings"])
    assert_stored_not_assessed(Prediction.objects.get(pk=results["F-NOTSH"]["panels"][0]["prediction"]["id"]))

    def risk_assessments(number):
        exported = machine.get(f"/api/v1/patients/{results[number]['patient_id']}/fhir/").json()
        return [e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]

    assert risk_assessments("F-NOTSH") == []  # not assessed: no risk to assert
    (referral,) = risk_assessments("F-UNIT")
    note = referral["note"][0]["text"]
    assert "refer for clinical review" in note and "unit_suspected" in note
    assert len(risk_assessments("F-PARTIAL")) == 1


# --- Stored panels scored in bulk (set-up) ---


def test_bulk_scoring_of_stored_panels_gives_each_its_outcome(active_version):
    patient = make_patient("MRN-BULK")
    fields = ("TSH", "T3", "TT4", "T4U", "FTI")

    def stored(values):
        return make_panel(patient, **{name: values.get(name) for name in fields}, age=values["age"])

    partial, unit, no_tsh = stored(PARTIAL), stored(UG_DL), stored(NO_TSH)
    assert score_stored_panels(version=active_version) == 3
    by_panel = {p.panel_id: p for p in Prediction.objects.all()}
    assert_partial_answered(by_panel[partial.pk].outcome, by_panel[partial.pk].predicted_class,
                            by_panel[partial.pk].probabilities)  # fmt: skip
    assert_unit_referred(by_panel[unit.pk].outcome, by_panel[unit.pk].reasons, by_panel[unit.pk].warnings)
    assert_stored_not_assessed(by_panel[no_tsh.pk])


def test_api_reason_messages_follow_the_request_language(machine):
    body = api(machine, "post", "/api/v1/predict", UG_DL, HTTP_ACCEPT_LANGUAGE="fr").json()
    (warning,) = [w for w in body["warnings"] if w["code"] == "unit_suspected"]
    assert warning["message"] == (
        "TT4 17 nmol/L ressemble à une valeur en ug/dL : × 12,87 = 218,8 nmol/L — vérifiez l’unité."
    )
    assert warning["params"]["converted"] == 218.8  # the values stay numbers
