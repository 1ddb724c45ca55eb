"""FHIR R4: import a Bundle of lab Observations (units converted), export Observations and RiskAssessments."""

import pytest

from diagnostics.models import AuditEvent, LabPanel, Patient, Prediction
from diagnostics.services.fhir import FhirError, parse_bundle, take_parsed_panel
from tests.api_builders import make_patient, token_client

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PATIENT_URL = "urn:uuid:0b6c1d7e-8a42-4c55-9d0e-6f1f2a3b4c5d"
WHEN = "2024-05-01T08:30:00+00:00"


def observation(code: str, value, unit: str, *, system: str = LOINC, when: str = WHEN, **extra) -> dict:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }
    return {"resource": resource, "request": {"method": "POST", "url": "Observation"}}


def bundle(*observations, record_number: str = "MRN-FHIR-1", identifier: str | None = None) -> dict:
    patient = {
        "fullUrl": PATIENT_URL,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:example:mrn", "value": record_number}],
            "gender": "female",
            "birthDate": "1970-03-15",
        },
        "request": {"method": "POST", "url": "Patient"},
    }
    result = {"resourceType": "Bundle", "type": "transaction", "entry": [patient, *observations]}
    if identifier:
        result["identifier"] = {"system": "urn:example:lab", "value": identifier}
    return result


US_LAB_BUNDLE = bundle(
    observation("3016-3", 0.02, "u[IU]/mL"),  # TSH in uIU/mL = mU/L
    observation("3026-2", 15.5, "ug/dL"),  # total T4, mass units
    observation("3053-6", 380, "ng/dL"),  # total T3, mass units
    observation("3021-3", 20, "ug/mL"),  # TBG
)


def taken(parsed):
    """Each collection time's panel as the one intake reads it (units converted, ranges checked)."""
    return [take_parsed_panel(parsed, panel, parsed.sex).panel for panel in parsed.panels]


def test_units_are_converted_to_thyroweb_units():
    parsed = parse_bundle(US_LAB_BUNDLE)
    (panel,) = taken(parsed)
    assert panel.values["TSH"] == pytest.approx(0.02)
    assert panel.values["TT4"] == pytest.approx(15.5 * 12.87)
    assert panel.values["T3"] == pytest.approx(380 * 0.01536)
    assert panel.values["TBG"] == pytest.approx(20)
    assert parsed.record_number == "MRN-FHIR-1" and parsed.sex == "F"


def test_an_unknown_unit_is_refused_naming_the_value_and_the_accepted_units():
    with pytest.raises(FhirError) as refused:
        parse_bundle(bundle(observation("3026-2", 15.5, "mg/furlong")))
    (path,) = refused.value.errors
    assert path == "entry.1.resource.valueQuantity.unit"
    assert "'mg/furlong'" in refused.value.errors[path][0] and "ug/dL" in refused.value.errors[path][0]


def test_unknown_codes_are_ignored_with_a_warning():
    parsed = parse_bundle(bundle(observation("3016-3", 2.0, "mIU/L"), observation("2345-7", 5.0, "mmol/L")))
    assert set(parsed.panels[0].values) == {"TSH"} and taken(parsed)[0].values["TSH"] == 2.0
    assert any("2345-7" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("code", "value", "unit", "field", "stored"),
    [
        ("14920-3", 15, "pmol/L", "FT4", 15.0),  # free T4, molar
        ("3024-7", 1.2, "ng/dL", "FT4", 1.2 * 12.87),  # free T4, mass
        ("14928-6", 4.5, "pmol/L", "FT3", 4.5),  # free T3, molar
        ("3051-0", 3.0, "pg/mL", "FT3", 3.0 * 1.536),  # free T3, mass
    ],
)
def test_free_t4_and_free_t3_are_read_in_either_loinc_convention(code, value, unit, field, stored):
    (panel,) = taken(parse_bundle(bundle(observation("3016-3", 2.0, "m[IU]/L"), observation(code, value, unit))))
    assert panel.values[field] == pytest.approx(stored)
    assert panel.received[field] == {"value": value, "unit": unit}


def test_a_molar_loinc_code_refuses_a_mass_unit():
    with pytest.raises(FhirError) as refused:
        parse_bundle(bundle(observation("14920-3", 1.2, "ng/dL")))
    assert "pmol/L" in refused.value.errors["entry.1.resource.valueQuantity.unit"][0]


@pytest.mark.parametrize(
    ("code", "text", "field", "stored"),
    [
        ("3026-2", "µg/dL", "TT4", 8.1 * 12.87),
        ("3016-3", "µIU/mL", "TSH", 8.1),
        ("3016-3", "mUI/L", "TSH", 8.1),
        ("14920-3", "pmol/l", "FT4", 8.1),
    ],
)
def test_a_unit_written_as_text_without_a_ucum_code_is_mapped_when_unambiguous(code, text, field, stored):
    item = observation(code, 8.1, text)
    del item["resource"]["valueQuantity"]["code"], item["resource"]["valueQuantity"]["system"]
    (panel,) = taken(parse_bundle(bundle(item)))
    assert panel.values[field] == pytest.approx(stored)


def test_observations_at_two_times_become_two_panels():
    parsed = parse_bundle(
        bundle(observation("3016-3", 2.0, "mIU/L"), observation("3016-3", 9.0, "mIU/L", when="2024-06-01T08:00:00Z"))
    )
    assert sorted(p.values["TSH"] for p in taken(parsed)) == [2.0, 9.0]


@pytest.mark.django_db
class TestImportAndExport:
    @pytest.fixture(autouse=True)
    def machine(self, clinician, active_version):
        self.client = token_client(clinician)

    def import_(self, body, content_type="application/fhir+json"):
        import json

        return self.client.post("/api/v1/fhir/Bundle", json.dumps(body), content_type=content_type)

    def test_import_stores_the_panel_scores_it_and_returns_the_prediction(self):
        response = self.import_(US_LAB_BUNDLE)
        assert response.status_code == 201, response.content
        body = response.json()
        patient = Patient.objects.get(record_number="MRN-FHIR-1")
        assert body["patient_id"] == patient.pk and body["created"] is True
        assert patient.sex == "F" and str(patient.date_of_birth) == "1970-03-15"
        panel = LabPanel.objects.get(patient=patient)
        assert panel.source == LabPanel.Source.FHIR
        assert panel.TT4 == pytest.approx(199.485) and panel.T3 == pytest.approx(5.8368)
        assert panel.age == 54  # from birthDate at effectiveDateTime
        assert body["panels"][0]["prediction"]["predicted_class"] in ("normal", "hyperthyroid", "hypothyroid")
        assert Prediction.objects.filter(panel=panel).count() == 1
        assert AuditEvent.objects.filter(action="fhir.import").exists()

    def test_round_trip_export_then_import_gives_the_same_values(self):
        self.import_(US_LAB_BUNDLE)
        patient = Patient.objects.get(record_number="MRN-FHIR-1")
        original = LabPanel.objects.get(patient=patient)

        exported = self.client.get(f"/api/v1/patients/{patient.pk}/fhir/")
        assert exported.status_code == 200
        document = exported.json()
        resources = [entry["resource"] for entry in document["entry"]]
        kinds = [r["resourceType"] for r in resources]
        assert document["type"] == "collection" and kinds.count("Patient") == 1
        by_code = {r["code"]["coding"][0]["code"]: r for r in resources if r["resourceType"] == "Observation"}
        tt4 = by_code["14921-1"]
        assert tt4["valueQuantity"]["code"] == "nmol/L"
        assert tt4["valueQuantity"]["value"] == pytest.approx(15.5 * 12.87)
        assert tt4["interpretation"][0]["coding"][0]["code"] == "H"
        assert tt4["category"][0]["coding"][0]["code"] == "laboratory"
        (risk,) = [r for r in resources if r["resourceType"] == "RiskAssessment"]
        outcomes = {p["outcome"]["text"]: p["probabilityDecimal"] for p in risk["prediction"]}
        assert set(outcomes) == {"normal", "hyperthyroid", "hypothyroid"}
        assert sum(outcomes.values()) == pytest.approx(1.0, abs=1e-5)
        patient_entry = document["entry"][0]
        assert patient_entry["resource"]["id"] == str(patient.pk)
        assert patient_entry["fullUrl"].startswith("urn:uuid:")
        assert risk["subject"]["reference"] == tt4["subject"]["reference"] == patient_entry["fullUrl"]
        full_urls = {entry["fullUrl"] for entry in document["entry"]}
        assert {basis["reference"] for basis in risk["basis"]} <= full_urls

        document["type"] = "transaction"
        again = self.import_(document, content_type="application/json")
        assert again.status_code == 201, again.content
        copy = LabPanel.objects.exclude(pk=original.pk).get(patient=patient)
        for name in ("age", "TSH", "T3", "TT4", "T4U", "FTI", "TBG"):
            before, after = getattr(original, name), getattr(copy, name)
            assert after == (None if before is None else pytest.approx(before)), name
        assert copy.TT4 is not None and copy.TSH is not None

    def test_the_same_bundle_identifier_imported_twice_stores_once(self):
        first = self.import_(bundle(observation("3016-3", 2.0, "mIU/L"), identifier="lab-42"))
        second = self.import_(bundle(observation("3016-3", 2.0, "mIU/L"), identifier="lab-42"))
        assert first.status_code == 201 and second.status_code == 200
        assert second.json()["created"] is False
        assert LabPanel.objects.count() == 1 and Prediction.objects.count() == 1

    def test_import_is_all_or_nothing_when_one_value_is_implausible(self):
        response = self.import_(
            bundle(
                observation("3016-3", 2.0, "mIU/L"), observation("3016-3", 2000, "mIU/L", when="2024-06-01T08:00:00Z")
            )
        )
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "entry.2.resource.valueQuantity.value": ["TSH 2000 mU/L is above the plausible maximum 1000 mU/L"]
        }
        assert not Patient.objects.exists() and not LabPanel.objects.exists()

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"resourceType": "Patient"}, "resourceType"),
            ({"resourceType": "Bundle", "type": "transaction", "entry": []}, "entry"),
            (bundle(observation("3016-3", "2.0", "mIU/L")), "entry.1.resource.valueQuantity.value"),
            (bundle(observation("3016-3", 10**400, "mIU/L")), "entry.1.resource.valueQuantity.value"),
            ({**bundle(observation("3016-3", 2.0, "mIU/L")), "type": "document"}, "type"),
            (bundle(observation("3016-3", 2.0, "mIU/L", status="entered-in-error")), "entry.1.resource.status"),
            ({**bundle(), "entry": bundle()["entry"][:1]}, "entry"),
        ],
    )
    def test_a_bad_bundle_is_refused_naming_where(self, body, path):
        response = self.import_(body)
        assert response.status_code == 400
        assert path in response.json()["errors"]

    def test_a_preliminary_result_is_refused_naming_its_entry_and_nothing_is_stored(self):
        body = bundle(observation("3016-3", 45.0, "mIU/L"), observation("3026-2", 3.0, "ug/dL", status="preliminary"))
        response = self.import_(body)
        assert response.status_code == 400
        [message] = response.json()["errors"]["entry.2.resource.status"]
        assert "preliminary" in message and "final" in message
        assert not LabPanel.objects.exists()

    def test_the_export_answers_as_fhir_json_when_asked(self):
        self.import_(US_LAB_BUNDLE)
        patient = Patient.objects.get(record_number="MRN-FHIR-1")
        exported = self.client.get(f"/api/v1/patients/{patient.pk}/fhir/", HTTP_ACCEPT="application/fhir+json")
        assert exported.status_code == 200
        assert exported["Content-Type"] == "application/fhir+json"
        assert exported.json()["resourceType"] == "Bundle"
        plain = self.client.get(f"/api/v1/patients/{patient.pk}/fhir/", HTTP_ACCEPT="application/json")
        assert plain["Content-Type"] == "application/json"

    def test_an_impossible_birth_date_is_refused(self):
        body = bundle(observation("3016-3", 2.0, "mIU/L"))
        body["entry"][0]["resource"]["birthDate"] = "1970-02-30"
        response = self.import_(body)
        assert response.status_code == 400
        assert "entry.0.resource.birthDate" in response.json()["errors"]

    def test_observations_may_name_the_patient_by_identifier_or_by_thyroweb_id(self):
        by_identifier = observation("3016-3", 3.0, "mIU/L")
        by_identifier["resource"]["subject"] = {"identifier": {"system": "urn:example:mrn", "value": "MRN-REF"}}
        first = self.import_({"resourceType": "Bundle", "type": "collection", "entry": [by_identifier]})
        assert first.status_code == 201, first.content
        patient = Patient.objects.get(record_number="MRN-REF")
        by_id = observation("3016-3", 4.0, "mIU/L", when="2024-07-01T08:00:00Z")
        by_id["resource"]["subject"] = {"reference": f"Patient/{patient.pk}"}
        second = self.import_({"resourceType": "Bundle", "type": "collection", "entry": [by_id]})
        assert second.status_code == 201, second.content
        assert sorted(LabPanel.objects.filter(patient=patient).values_list("TSH", flat=True)) == [3.0, 4.0]
        by_id["resource"]["subject"] = {"reference": "Patient/999999"}
        missing = self.import_({"resourceType": "Bundle", "type": "collection", "entry": [by_id]})
        assert missing.status_code == 400 and "subject" in missing.json()["errors"]

    def test_observations_without_a_patient_are_refused(self):
        lone = observation("3016-3", 2.0, "mIU/L")
        del lone["resource"]["subject"]
        response = self.import_({"resourceType": "Bundle", "type": "collection", "entry": [lone]})
        assert response.status_code == 400
        assert "entry.0.resource.subject" in response.json()["errors"]

    def test_export_of_an_unknown_or_deleted_patient_is_404(self):
        from django.utils import timezone

        gone = make_patient("MRN-GONE", deleted_at=timezone.now())
        assert self.client.get(f"/api/v1/patients/{gone.pk}/fhir/").status_code == 404
        assert self.client.get("/api/v1/patients/999999/fhir/").status_code == 404
