"""A lab report as the lab sends it: free T4/T3 and the lab's units through the form, the API, a CSV file and a
FHIR Bundle give the same stored values, the same guideline reading and the same outcome; the values as
received are kept and shown; the model says which values it did not use."""

import csv
import io
import json

import pytest
from django.urls import reverse

from diagnostics.models import LabPanel, Prediction
from diagnostics.services.intake import score_values, stored_panel
from diagnostics.services.scoring_jobs import process_scoring_job, result_csv_text, start_scoring_job
from mlcore.schema import INPUT_FIELDS
from tests.api_builders import token_client
from tests.job_builders import upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# A French laboratory (TSH in mUI/L, T4L and T3L in pmol/L) and a US one (uIU/mL, ng/dL, pg/mL):
# {field: (value, unit as the lab writes it, UCUM code the form's select sends, LOINC code, value in our unit)}.
FRENCH = {
    "TSH": (8.2, "mUI/L", "m[IU]/L", "3016-3", 8.2),
    "FT4": (9.0, "pmol/L", "pmol/L", "14920-3", 9.0),
    "FT3": (3.5, "pmol/L", "pmol/L", "14928-6", 3.5),
}
US = {
    "TSH": (8.2, "uIU/mL", "u[IU]/mL", "3016-3", 8.2),
    "FT4": (0.7, "ng/dL", "ng/dL", "3024-7", 0.7 * 12.87),
    "FT3": (2.28, "pg/mL", "pg/mL", "3051-0", 2.28 * 1.536),
}
PANELS = {"french": FRENCH, "us": US}


def through_form(client, lab: dict) -> LabPanel:
    data = {
        "record_number": "MRN-FORM",
        "new_patient": "on",
        "sex": "F",
        "collected_at": "2024-05-01T08:30",
        "age": "61",
        "referral_source": "other",
    }
    for name, (value, _text, code, _loinc, _ours) in lab.items():
        data[name], data[f"{name}_unit"] = str(value), code
    response = client.post(reverse("panel_create"), data)
    assert response.status_code == 302, response.context["form"].errors
    return LabPanel.objects.get(patient__record_number="MRN-FORM")


def through_api(client, lab: dict) -> LabPanel:
    body = {"patient": "MRN-API", "age": 61, "sex": "F", "collected_at": "2024-05-01T08:30:00Z"}
    body.update({name: {"value": value, "unit": text} for name, (value, text, *_rest) in lab.items()})
    response = client.post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return LabPanel.objects.get(pk=response.json()["panel_id"])


def through_csv(user, lab: dict) -> tuple[LabPanel, dict]:
    columns = [name for name in INPUT_FIELDS if name not in lab] + [f"{name}[{lab[name][1]}]" for name in lab]
    row = {name: "" for name in columns}
    row.update({"age": "61", "sex": "F", "referral_source": "other", "record_number": "MRN-CSV"})
    row.update({f"{name}[{text}]": str(value) for name, (value, text, *_rest) in lab.items()})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*columns, "record_number", "collected_at"], lineterminator="\n")
    writer.writeheader()
    writer.writerow({**row, "collected_at": "2024-05-01T08:30:00+00:00"})
    job = start_scoring_job(user=user, uploaded_file=upload(out.getvalue()))
    assert job.rejected_rows == 0, job.rejected
    process_scoring_job(job_id=job.pk, task_id=job.celery_task_id)
    job.refresh_from_db()
    (result,) = list(csv.DictReader(io.StringIO(result_csv_text(job))))
    return LabPanel.objects.get(patient__record_number="MRN-CSV"), result


def through_fhir(client, lab: dict) -> LabPanel:
    patient_url = "urn:uuid:2f0d6c1e-1b7a-4c3e-9a55-0e3c1f7b9d21"
    entries = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"value": "MRN-FHIR"}],
                "gender": "female",
                "birthDate": "1963-01-15",
            },
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for value, text, code, loinc, _ours in lab.values():
        # The unit written as text, with its UCUM code where the lab gives one (a French lab often does not).
        quantity = {"value": value, "unit": text}
        if text == code:
            quantity.update(system=UCUM, code=code)
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": loinc}]},
                    "subject": {"reference": patient_url},
                    "effectiveDateTime": "2024-05-01T08:30:00Z",
                    "valueQuantity": quantity,
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = client.post("/api/v1/fhir/Bundle", json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 201, response.content
    return LabPanel.objects.get(patient__record_number="MRN-FHIR")


@pytest.mark.parametrize("lab_name", PANELS)
def test_one_lab_panel_through_form_api_csv_and_fhir_gives_the_same_values_reading_and_outcome(
    lab_name, client_for, clinician, data_manager, active_version
):
    lab = PANELS[lab_name]
    panels = {
        "form": through_form(client_for(clinician), lab),
        "api": through_api(token_client(clinician), lab),
        "fhir": through_fhir(token_client(clinician), lab),
    }
    panels["csv"], csv_result = through_csv(data_manager, lab)

    for channel, panel in panels.items():
        for name, (*_given, ours) in lab.items():
            assert getattr(panel, name) == pytest.approx(ours, abs=1e-6), (channel, name)
        assert (panel.age, panel.patient.sex, panel.TT4, panel.T3) == (61, "F", None, None), channel
    for channel in ("api", "csv", "fhir"):  # the form sends the select's UCUM code; the others the lab's text
        assert panels[channel].received == {
            name: {"value": value, "unit": text} for name, (value, text, *_rest) in lab.items()
        }, channel

    predictions = {
        channel: Prediction.objects.get(panel=panel) for channel, panel in panels.items() if channel != "csv"
    }
    # The CSV panel as stored, scored by the same model (batch scoring stores outcomes with the safe-answers work).
    predictions["csv"] = score_values(stored_panel(panels["csv"]), version=active_version, explain=False)[0]
    for channel, prediction in predictions.items():
        assert prediction.pattern["code"] == "overt_primary_hypothyroidism", channel
        assert prediction.pattern["thyroxine"] == "FT4" and prediction.pattern["T3"] == "FT3", channel
    outcomes = {
        (p.outcome, p.predicted_class or None, tuple(r["code"] for r in p.reasons)) for p in predictions.values()
    }
    assert len(outcomes) == 1, outcomes
    assert csv_result["pattern"] == "overt_primary_hypothyroidism"
    assert float(csv_result["FT4"]) == pytest.approx(lab["FT4"][4])


def test_the_result_page_shows_the_reading_the_values_as_received_and_what_the_model_did_not_use(
    client_for, clinician, active_version
):
    client = client_for(clinician)
    panel = through_form(client, US)
    html = client.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert 'data-code="overt_primary_hypothyroidism"' in html
    assert "Overt primary hypothyroidism" in html and "Read from: TSH, FT4, FT3." in html
    assert 'id="not-used-by-model"' in html and "The model did not use FT4, FT3" in html
    assert 'id="received-FT4">0.7 ng/dL<' in html  # as the lab sent it, beside the stored 9.009 pmol/L
    assert 'id="received-FT3">2.28 pg/mL<' in html


def test_the_result_page_reads_in_french(client_for, clinician, active_version):
    client = client_for(clinician)
    panel = through_form(client, FRENCH)
    client.cookies["django_language"] = "fr"
    html = client.get(reverse("panel_detail", args=[panel.pk]), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Hypothyroïdie primaire patente" in html
    assert "Le modèle n’a pas utilisé FT4, FT3" in html


def test_the_api_gives_the_reading_with_its_message_and_the_values_not_used(clinician, active_version):
    body = {"TSH": {"value": 8.2, "unit": "mUI/L"}, "FT4": {"value": 9, "unit": "pmol/l"}, "age": 61}
    response = token_client(clinician).post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["pattern"]["code"] == "overt_primary_hypothyroidism"
    assert answer["pattern"]["message"].startswith("Overt primary hypothyroidism")
    unused = [w for w in answer["warnings"] if w["code"] == "not_used_by_model"]
    assert unused and unused[0]["params"]["fields"][0] == "FT4" and "did not use FT4" in unused[0]["message"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ({"value": 8.1, "unit": "mg"}, None, "TT4: unit 'mg' is not a unit of total T4; use one of nmol/L, pmol/L"),
        ({"value": 8.1}, None, 'TT4 must be a number in nmol/L or {"value": number, "unit": "text"}'),
        ({"value": "8.1", "unit": "ug/dL"}, None, "TT4 value '8.1' is not a number"),
        ({"value": 80, "unit": "ug/dL"}, None, "TT4 1029.6 nmol/L is above the plausible maximum 700 nmol/L"),
    ],
)
def test_the_api_refuses_a_bad_unit_or_value_naming_the_field(clinician, active_version, field, value, message):
    body = {"TSH": 2.0, "TT4": field}
    response = token_client(clinician).post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["TT4"][0].startswith(message)


def test_the_api_accepts_a_plain_number_in_our_unit_and_an_object_in_the_labs(clinician, active_version):
    client = token_client(clinician)
    plain = client.post("/api/v1/predict", json.dumps({"TSH": 2.0, "TT4": 104.247}), content_type="application/json")
    with_unit = client.post(
        "/api/v1/predict",
        json.dumps({"TSH": {"value": 2.0, "unit": "m[IU]/L"}, "TT4": {"value": 8.1, "unit": "µg/dL"}}),
        content_type="application/json",
    )
    assert plain.status_code == with_unit.status_code == 200
    assert plain.json()["probabilities"] == with_unit.json()["probabilities"]


def test_the_openapi_schema_lists_the_accepted_units(client_for, clinician):
    schema = client_for(clinician).get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "ug/dL" in schema and "pmol/L" in schema and "u[IU]/mL" in schema


def test_the_form_offers_the_sites_default_unit_and_refuses_nothing_it_offers(client_for, clinician, settings):
    settings.THYROWEB_DEFAULT_UNITS = {"TSH": "u[IU]/mL", "TT4": "ug/dL"}
    html = client_for(clinician).get(reverse("panel_create")).content.decode()
    assert '<option value="u[IU]/mL" selected>µIU/mL</option>' in html
    assert '<option value="ug/dL" selected>ug/dL</option>' in html
    assert '<option value="pmol/L" selected>pmol/L</option>' in html  # FT4: ours when the site names none


def test_a_csv_header_unit_that_is_not_the_fields_is_refused_naming_it(data_manager, active_version):
    from diagnostics.services.scoring_jobs import UploadRejected

    header = [name if name != "TT4" else "TT4[mg]" for name in INPUT_FIELDS]
    with pytest.raises(UploadRejected) as refused:
        start_scoring_job(user=data_manager, uploaded_file=upload(",".join(header) + "\n"))
    assert "TT4: unit 'mg' is not a unit of total T4" in str(refused.value)


def test_the_form_converts_a_value_in_the_chosen_unit_and_names_the_field_when_it_is_implausible(
    client_for, clinician, active_version
):
    client = client_for(clinician)
    data = {
        "record_number": "MRN-US",
        "new_patient": "on",
        "collected_at": "2024-05-01T08:30",
        "referral_source": "other",
        "TSH": "2.0",
        "TSH_unit": "u[IU]/mL",
        "TT4": "80",
        "TT4_unit": "ug/dL",
    }
    refused = client.post(reverse("panel_create"), data)
    assert refused.status_code == 200 and not LabPanel.objects.exists()
    assert refused.context["form"].errors["TT4"] == ["TT4 1029.6 nmol/L is above the plausible maximum 700 nmol/L."]
    client.post(reverse("panel_create"), {**data, "TT4": "8.1"})
    panel = LabPanel.objects.get()
    assert panel.TT4 == pytest.approx(104.247)
    assert panel.received["TT4"] == {"value": 8.1, "unit": "ug/dL"}


def test_a_model_reading_disagreement_is_referred_through_the_api(clinician, active_version):
    """Normal totals the model reads as normal, with a free T4 below its interval: the reading says overt
    primary hypothyroidism; the outcome is refer, with the disagreement among the reasons."""
    body = {"patient": "MRN-DIS", "age": 50, "TSH": 4.5, "FT4": 10, "TT4": 110, "T4U": 1.0, "FTI": 110, "T3": 2.0}
    response = token_client(clinician).post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["predicted_class"] == "normal"
    assert response.json()["pattern"]["code"] == "overt_primary_hypothyroidism"
    prediction = Prediction.objects.get(pk=response.json()["prediction_id"])
    assert prediction.outcome == "refer" and prediction.uncertain
    assert {
        "code": "model_disagrees_with_reading",
        "params": {"predicted_class": "normal", "pattern": "overt_primary_hypothyroidism"},
    } in prediction.reasons


def test_fhir_export_writes_free_t4_and_free_t3_in_their_molar_loinc_codes(clinician, active_version):
    client = token_client(clinician)
    panel = through_fhir(client, US)
    document = client.get(f"/api/v1/patients/{panel.patient_id}/fhir/").json()
    by_code = {
        entry["resource"]["code"]["coding"][0]["code"]: entry["resource"]
        for entry in document["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    }
    ft4, ft3 = by_code["14920-3"], by_code["14928-6"]
    assert ft4["valueQuantity"] == {"value": pytest.approx(9.009), "unit": "pmol/L", "system": UCUM, "code": "pmol/L"}
    assert ft4["interpretation"][0]["coding"][0]["code"] == "L"  # below 12 pmol/L
    assert ft4["referenceRange"][0]["low"]["value"] == 12.0 and ft4["referenceRange"][0]["high"]["value"] == 22.0
    assert ft3["valueQuantity"]["value"] == pytest.approx(3.50208)


def test_the_lab_history_charts_have_free_t4_and_free_t3_with_their_reference_bands(
    client_for, clinician, active_version
):
    client = client_for(clinician)
    panel = through_form(client, FRENCH)
    html = client.get(reverse("patient_detail", args=[panel.patient_id])).content.decode()
    assert 'id="chart-FT4"' in html and 'id="chart-FT3"' in html
    from diagnostics.selectors import lab_history_chart, patient_panels

    series = lab_history_chart(patient_panels(panel.patient))
    assert series["FT4"]["reference"] == [12.0, 22.0] and series["FT3"]["reference"] == [3.1, 6.8]
    assert [point["y"] for point in series["FT4"]["points"]] == [9.0]
