"""FHIR R4 lab exchange: a Bundle of lab Observations in, lab panels and predictions out.

Import reads a ``transaction`` or ``collection`` Bundle of LOINC-coded Observations for one patient into
one raw panel per collection time (each value with its unit and comparator, as sent), takes each through
the one intake (mlcore.intake.take_panel: units converted to those of ``mlcore.schema.LAB_TESTS``, ranges
checked) and records and scores it by the one service (services/intake.py). Export writes a patient's
panels as Observations and each prediction as a RiskAssessment. Codes and units: docs/clinical-facts.md.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from diagnostics.models import LabPanel, Patient, Prediction
from diagnostics.services.audit import record_event
from diagnostics.services.intake import (
    EARLIEST_BIRTH,
    PatientDeleted,
    age_at,
    patient_for,
    plausible_date_of_birth,
    record_number_problem,
    record_panel,
    score_stored_panel,
)
from mlcore import rules, units
from mlcore.intake import Intake, take_panel
from mlcore.schema import CLASSES, LAB_TESTS

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# Tests with no LOINC code in the Garvan convention (T4U ratio, FTI = TT4/T4U) travel under our own code system.
THYROWEB_LAB = "urn:thyroweb:fhir:lab"
RECORD_NUMBER_SYSTEM = "urn:thyroweb:fhir:record-number"
MAX_ENTRIES = 1000

# (system, code) -> (field, accepted UCUM units with their factors to ThyroWeb's unit): the one conversion
# table (mlcore.units), a molar LOINC code to molar units and a mass code to mass units.
CODES: dict[tuple[str, str], tuple[str, dict[str, float]]] = {
    (LOINC, "3016-3"): ("TSH", units.CONVERSIONS["TSH"]),
    (LOINC, "14921-1"): ("TT4", units.MOLAR["TT4"]),
    (LOINC, "3026-2"): ("TT4", units.MASS["TT4"]),
    (LOINC, "14930-2"): ("T3", units.MOLAR["T3"]),
    (LOINC, "3053-6"): ("T3", units.MASS["T3"]),
    (LOINC, "14920-3"): ("FT4", units.MOLAR["FT4"]),
    (LOINC, "3024-7"): ("FT4", units.MASS["FT4"]),
    (LOINC, "14928-6"): ("FT3", units.MOLAR["FT3"]),
    (LOINC, "3051-0"): ("FT3", units.MASS["FT3"]),
    (LOINC, "3021-3"): ("TBG", units.MASS["TBG"]),
    (THYROWEB_LAB, "T4U"): ("T4U", units.CONVERSIONS["T4U"]),
    (THYROWEB_LAB, "FTI"): ("FTI", units.CONVERSIONS["FTI"]),
    (LOINC, "30525-0"): ("age", units.CONVERSIONS["age"]),
}
# Known codes ThyroWeb does not use: ignored with a warning saying why.
IGNORED = {
    (LOINC, "3050-2"): (
        "T3 resin uptake in % cannot be converted to the T4 uptake ratio (T4U) without the laboratory's "
        f"reference pool; send T4U as a ratio under {THYROWEB_LAB} code T4U"
    ),
    (LOINC, "32215-6"): "this free thyroxine index is the US convention; FTI is computed as TT4/T4U instead",
}
# What export writes for each field: (system, code, display, UCUM code).
EXPORT_CODES = {
    "TSH": (LOINC, "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L"),
    "T3": (LOINC, "14930-2", "Triiodothyronine (T3) [Moles/volume] in Serum or Plasma", "nmol/L"),
    "TT4": (LOINC, "14921-1", "Thyroxine (T4) [Moles/volume] in Serum or Plasma", "nmol/L"),
    "T4U": (THYROWEB_LAB, "T4U", "T4 uptake (ratio)", "1"),
    "FTI": (THYROWEB_LAB, "FTI", "Free thyroxine index (TT4/T4U)", "nmol/L"),
    "TBG": (LOINC, "3021-3", "Thyroxine binding globulin [Mass/volume] in Serum or Plasma", "ug/mL"),
    "FT4": (LOINC, "14920-3", "Thyroxine (T4) free [Moles/volume] in Serum or Plasma", "pmol/L"),
    "FT3": (LOINC, "14928-6", "Triiodothyronine (T3) free [Moles/volume] in Serum or Plasma", "pmol/L"),
    "age": (LOINC, "30525-0", "Age", "a"),
}
# Only final results are scored: a preliminary value may still change, and a prediction made on it would stay.
_FINAL_STATUSES = {"final", "amended", "corrected"}
_GENDER = {"male": "M", "female": "F"}


class FhirError(Exception):
    """The Bundle cannot be imported; ``errors`` maps a path in the Bundle to its problems."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))
        self.errors = errors


@dataclass
class ParsedPanel:
    """One collection time's values as sent (``{"value", "unit", "qualifier"}`` per field, for the intake)
    and where each came from in the Bundle."""

    collected_at: datetime | None
    values: dict[str, dict] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedBundle:
    record_number: str | None = None
    patient_id: int | None = None
    sex: str | None = None
    birth_date: date | None = None
    bundle_key: str = ""
    panels: list[ParsedPanel] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    patient: Patient
    panels: list[LabPanel]
    predictions: list[Prediction]
    warnings: list[str]
    created: bool


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise FhirError(self.errors)


def _is_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond any float
        return False


def _parse_when(text, path: str, errors: _Errors) -> datetime | None:
    if text is None:
        return None
    when = None
    if isinstance(text, str):
        try:
            when = parse_datetime(text)
            if when is None and parse_date(text) is not None:
                when = datetime.combine(parse_date(text), datetime.min.time())
        except ValueError:
            when = None
    if when is None:
        errors.add(path, f"{text!r} is not a FHIR dateTime (e.g. 2024-05-01T08:30:00Z)")
        return None
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


def _coding_key(code: dict) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """The first coding ThyroWeb knows (or ignores knowingly), and all codings seen."""
    codings = code.get("coding") if isinstance(code, dict) else None
    seen = []
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and isinstance(coding.get("system"), str) and isinstance(coding.get("code"), str):
            key = (coding["system"], coding["code"])
            seen.append(key)
            if key in CODES or key in IGNORED:
                return key, seen
    return None, seen


def _unit_of(quantity: dict, name: str, accepted: dict[str, float]) -> tuple[str | None, str | None]:
    """(the UCUM code of the quantity's unit among the accepted ones, or None; the unit as written).

    A UCUM ``code`` is read as it is; a unit written as text only (``µg/dL``, ``mUI/L``) is mapped to
    its UCUM code when that is unambiguous (mlcore.units)."""
    code = quantity.get("code")
    written = code if isinstance(code, str) and code and quantity.get("system") in (None, UCUM) else None
    if written is None:
        unit = quantity.get("unit")
        written = unit if isinstance(unit, str) and unit else None
    mapped = units.ucum_code(name, written)
    return (mapped if mapped in accepted else None), written


def _subject_key(subject, path: str, errors: _Errors, patients_by_url: dict[str, dict]) -> tuple | None:
    """('url', fullUrl) | ('record', number) | ('id', pk) for an Observation's subject."""
    if subject is None:
        return None
    if not isinstance(subject, dict):
        errors.add(path, "subject must be a Reference object")
        return None
    reference = subject.get("reference")
    if isinstance(reference, str) and reference:
        if reference in patients_by_url:
            return ("url", reference)
        kind, _, ident = reference.partition("/")
        if kind == "Patient" and ident.isdigit():
            return ("id", int(ident))
        errors.add(path + ".reference", f"{reference!r} is neither a Patient in this Bundle nor Patient/<ThyroWeb id>")
        return None
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"].strip():
        return ("record", identifier["value"].strip())
    errors.add(path, "subject needs a reference or an identifier with a value")
    return None


def _record_number(resource: dict, path: str, errors: _Errors) -> str | None:
    identifiers = resource.get("identifier")
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"].strip():
            number = identifier["value"].strip()
            problem = record_number_problem(number, name="the identifier's value")
            if problem is not None:
                errors.add(path + ".identifier", problem)
                return None
            return number
    errors.add(path + ".identifier", "the Patient needs an identifier (medical record number) with a value")
    return None


def parse_bundle(bundle) -> ParsedBundle:
    """Read a Bundle into panels of values in ThyroWeb units; raise FhirError listing every problem."""
    errors = _Errors()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError({"resourceType": ["the body must be a FHIR Bundle (resourceType 'Bundle')"]})
    if bundle.get("type") not in ("transaction", "collection", "batch"):
        errors.add("type", f"Bundle type {bundle.get('type')!r} is not one of transaction, collection, batch")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        errors.add("entry", "the Bundle has no entries")
        errors.raise_if_any()
    if len(entries) > MAX_ENTRIES:
        raise FhirError({"entry": [f"the Bundle has {len(entries)} entries; at most {MAX_ENTRIES} are accepted"]})

    parsed = ParsedBundle()
    identifier = bundle.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"].strip():
        parsed.bundle_key = f"{identifier.get('system') or ''}|{identifier['value'].strip()}"[:100]

    patients_by_url: dict[str, dict] = {}
    observations: list[tuple[str, dict]] = []
    for index, entry in enumerate(entries):
        path = f"entry.{index}"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            errors.add(path, "each entry needs a resource object")
            continue
        kind = resource.get("resourceType")
        if kind == "Patient":
            full_url = entry.get("fullUrl")
            keys = [full_url] if isinstance(full_url, str) and full_url else []
            if isinstance(resource.get("id"), str):
                keys.append(f"Patient/{resource['id']}")
            if not keys:
                errors.add(path + ".fullUrl", "a Patient entry needs a fullUrl (e.g. urn:uuid:...) or an id")
            for key in keys:
                patients_by_url[key] = {"resource": resource, "path": path + ".resource"}
        elif kind == "Observation":
            observations.append((path + ".resource", resource))
        elif kind == "RiskAssessment":
            continue  # a prediction, ours or another system's: not an input
        else:
            parsed.warnings.append(f"{path}: {kind!r} resources are ignored")
    if not observations:
        errors.add("entry", "the Bundle has no Observation")

    subjects = set()
    by_time: dict[datetime | None, ParsedPanel] = {}
    for path, resource in observations:
        subject = _subject_key(resource.get("subject"), path + ".subject", errors, patients_by_url)
        if subject is None and "subject" not in resource:
            errors.add(path + ".subject", "the Observation needs a subject (the Patient)")
        elif subject is not None:
            subjects.add(subject)
        status = resource.get("status")
        if status == "preliminary":
            errors.add(
                path + ".status",
                "status 'preliminary' is not a final result: ThyroWeb stores and scores final results only "
                "(final, amended or corrected); send this Observation again once it is final",
            )
        elif status not in _FINAL_STATUSES:
            errors.add(path + ".status", f"status {status!r} is not a result (use final, amended or corrected)")
        key, seen = _coding_key(resource.get("code"))
        if key is None:
            shown = ", ".join(f"{s}|{c}" for s, c in seen) or "no coding"
            parsed.warnings.append(f"{path}.code: {shown} is not a thyroid test ThyroWeb uses; ignored")
            continue
        if key in IGNORED:
            parsed.warnings.append(f"{path}.code: {key[0]}|{key[1]} ignored: {IGNORED[key]}")
            continue
        name, accepted = CODES[key]
        when = _parse_when(resource.get("effectiveDateTime"), path + ".effectiveDateTime", errors)
        panel = by_time.setdefault(when, ParsedPanel(collected_at=when))
        if name in panel.values or name in panel.paths:
            errors.add(path + ".code", f"{name} is given twice for the same effectiveDateTime")
            continue
        if "valueQuantity" not in resource:
            if "dataAbsentReason" not in resource:
                errors.add(path + ".valueQuantity", f"{name} needs a valueQuantity or a dataAbsentReason")
            panel.paths[name] = path + ".dataAbsentReason"
            continue
        quantity = resource["valueQuantity"]
        if not isinstance(quantity, dict):
            errors.add(path + ".valueQuantity", "valueQuantity must be an object")
            continue
        value = quantity.get("value")
        if not _is_number(value):
            errors.add(path + ".valueQuantity.value", f"{name} value {value!r} is not a number")
            continue
        unit, written = _unit_of(quantity, name, accepted)
        if unit is None:
            errors.add(
                path + ".valueQuantity.unit",
                f"{name} unit {written!r} is not one ThyroWeb can convert (accepted UCUM codes: {', '.join(accepted)})",
            )
            continue
        comparator = quantity.get("comparator")
        if comparator is not None:
            if comparator not in ("<", "<=", ">", ">="):
                errors.add(path + ".valueQuantity.comparator", f"comparator {comparator!r} is not <, <=, > or >=")
                continue
            parsed.warnings.append(f"{path}: {name} reported as {comparator} a bound; stored as the bound")
        # The unit as written (the intake reads it as the UCUM code checked above) and the comparator.
        panel.values[name] = {"value": value, "unit": written, **({"qualifier": comparator} if comparator else {})}
        panel.paths[name] = path + ".valueQuantity.value"

    if len(subjects) > 1:
        errors.add("entry", "all Observations must be about the same Patient")
    errors.raise_if_any()

    subject = subjects.pop() if subjects else None
    if subject is None and len({id(p["resource"]) for p in patients_by_url.values()}) == 1:
        subject = ("url", next(iter(patients_by_url)))
    if subject is None:
        raise FhirError({"entry": ["no Patient: add a Patient entry or a subject to the Observations"]})
    if subject[0] == "url":
        found = patients_by_url[subject[1]]
        patient_resource, path = found["resource"], found["path"]
        parsed.record_number = _record_number(patient_resource, path, errors)
        gender = patient_resource.get("gender")
        parsed.sex = _GENDER.get(gender) if isinstance(gender, str) else None
        birth = patient_resource.get("birthDate")
        if birth is not None:
            try:
                parsed.birth_date = parse_date(birth) if isinstance(birth, str) else None
            except ValueError:  # well formed but not a real day (2024-02-30)
                parsed.birth_date = None
            if parsed.birth_date is None:
                errors.add(path + ".birthDate", f"{birth!r} is not a date (YYYY-MM-DD)")
            elif not plausible_date_of_birth(parsed.birth_date):
                errors.add(path + ".birthDate", f"{birth!r} is not a past date after {EARLIEST_BIRTH.year}")
    elif subject[0] == "record":
        parsed.record_number = subject[1]
    else:
        parsed.patient_id = subject[1]
    errors.raise_if_any()
    parsed.panels = [p for p in by_time.values() if p.values or p.paths]
    if not parsed.panels:
        raise FhirError({"entry": [f"no Observation of a test ThyroWeb uses ({', '.join(LAB_TESTS)}, age)"]})
    return parsed


def take_parsed_panel(parsed: ParsedBundle, panel: ParsedPanel, sex: str | None) -> Intake:
    """One collection time's values through the one intake: the age from the birth date when not sent, and
    FTI computed as TT4/T4U (in ThyroWeb's units) when not sent; every problem named by its path."""
    raw: dict = {**panel.values, "sex": sex}
    if "age" not in raw:
        raw["age"] = age_at(parsed.birth_date, panel.collected_at)
    intake = take_panel(raw)
    values = intake.panel.values if intake.panel is not None else {}
    if "FTI" not in raw and values.get("TT4") is not None and values.get("T4U"):
        intake = take_panel({**raw, "FTI": round(values["TT4"] / values["T4U"], 3)})
    if intake.errors:
        errors: dict[str, list[str]] = {}
        for problem in intake.errors:
            where = panel.paths.get(problem.field, {"age": "birthDate", "labs": "labs"}.get(problem.field, "entry"))
            errors.setdefault(where, []).append(problem.message)
        raise FhirError(errors)
    return intake


@transaction.atomic
def import_bundle(*, bundle, user, request=None) -> ImportResult:
    """Store the Bundle's panels (one per collection time) and score each; all or nothing.

    A Bundle with an ``identifier`` imported again returns what the first import stored.
    """
    parsed = parse_bundle(bundle)
    if parsed.patient_id is not None:
        patient = Patient.objects.visible().filter(pk=parsed.patient_id).first()
        if patient is None:
            raise FhirError({"subject": [f"there is no patient Patient/{parsed.patient_id}"]})
        number = patient.record_number
    else:
        number = parsed.record_number
    try:
        patient = patient_for(
            record_number=number, sex=parsed.sex, date_of_birth=parsed.birth_date, user=user, request=request
        )
    except PatientDeleted:
        raise FhirError({"identifier": ["this patient was deleted; ask a data manager"]}) from None

    refs = [f"{parsed.bundle_key}#{i}" if parsed.bundle_key else "" for i in range(len(parsed.panels))]
    if parsed.bundle_key:
        existing = list(LabPanel.objects.filter(source=LabPanel.Source.FHIR, source_ref__in=refs))
        if existing:
            if any(panel.patient_id != patient.pk for panel in existing):
                raise FhirError({"identifier": ["this Bundle identifier was already imported for another patient"]})
            predictions = [score_stored_panel(panel=panel, user=user, request=request) for panel in existing]
            return ImportResult(patient, existing, predictions, parsed.warnings, created=False)

    sex = parsed.sex or patient.sex or None
    taken = [take_parsed_panel(parsed, panel, sex) for panel in parsed.panels]
    panels, predictions = [], []
    for panel_data, intake, ref in zip(parsed.panels, taken, refs, strict=True):
        panel, prediction = record_panel(
            patient=patient,
            panel=intake.panel,
            source=LabPanel.Source.FHIR,
            collected_at=panel_data.collected_at,
            source_ref=ref,
            user=user,
            request=request,
        )
        panels.append(panel)
        predictions.append(prediction)
    record_event(action="fhir.import", actor=user, request=request, obj=patient, panels=len(panels))
    return ImportResult(patient, panels, predictions, parsed.warnings, created=True)


_INTERPRETATION_CODES = {"low": "L", "normal": "N", "high": "H"}


def _interpretation(name: str, value: float) -> str:
    return _INTERPRETATION_CODES[LAB_TESTS[name].level(value)]


def _observation(panel: LabPanel, name: str, value: float, patient_ref: str) -> dict:
    system, code, display, ucum = EXPORT_CODES[name]
    observation = {
        "resourceType": "Observation",
        "id": f"panel-{panel.pk}-{name}",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": panel.collected_at.isoformat(),
        "valueQuantity": {"value": value, "unit": ucum, "system": UCUM, "code": ucum},
    }
    test = LAB_TESTS.get(name)
    if test is None:  # age: not a laboratory result
        return observation
    observation["category"] = [
        {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
    ]
    observation["code"]["text"] = test.label
    observation["referenceRange"] = [
        {
            "low": {"value": test.reference_low, "unit": ucum, "system": UCUM, "code": ucum},
            "high": {"value": test.reference_high, "unit": ucum, "system": UCUM, "code": ucum},
        }
    ]
    observation["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": _interpretation(name, value)}]}]
    return observation


def _reason_codes(reasons) -> list[str]:
    return [str(reason.get("code")) for reason in reasons or [] if isinstance(reason, dict)]


def _risk_assessment(prediction: Prediction, patient_ref: str, basis: list[str]) -> dict:
    """A scored panel as a RiskAssessment (the caller leaves out the not-assessed ones: they have no risk)."""
    explanation = "; ".join(str(item.get("text", "")) for item in prediction.explanation if isinstance(item, dict))
    notes = [f"Decision aid, not a diagnosis. Model version {prediction.model_version.version}."]
    codes = _reason_codes(prediction.reasons)
    if prediction.outcome == rules.REFER:
        notes.append(f"Outcome: refer for clinical review. Reasons: {', '.join(codes) or 'low_confidence'}.")
    elif prediction.uncertain:
        notes.append("Uncertain: low confidence, refer for review.")
    warnings = _reason_codes(prediction.warnings)
    if warnings:
        notes.append(f"Input warnings: {', '.join(warnings)}.")
    if explanation:
        notes.append(f"Basis: {explanation}")
    return {
        "resourceType": "RiskAssessment",
        "id": f"prediction-{prediction.pk}",
        "status": "final",
        "subject": {"reference": patient_ref},
        "occurrenceDateTime": prediction.created_at.isoformat(),
        "method": {"text": f"ThyroWeb model {prediction.model_version.version}"},
        "basis": [{"reference": ref} for ref in basis],
        "prediction": [
            {
                "outcome": {"text": name},
                "probabilityDecimal": round(getattr(prediction, f"p_{name}"), 6),
                **({"rationale": "predicted class"} if name == prediction.predicted_class else {}),
            }
            for name in CLASSES
        ],
        "note": [{"text": " ".join(notes)}],
    }


def _urn(kind: str, ident) -> str:
    """A stable urn:uuid for a resource of this installation (a collection Bundle's fullUrl must be absolute)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'thyroweb:{kind}/{ident}')}"


def export_patient_bundle(patient: Patient) -> dict:
    """The patient's panels as lab Observations and their predictions as RiskAssessments (a collection)."""
    patient_ref = _urn("Patient", patient.pk)
    patient_resource = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [{"system": RECORD_NUMBER_SYSTEM, "value": patient.record_number}],
    }
    if patient.sex:
        patient_resource["gender"] = {"M": "male", "F": "female"}[patient.sex]
    if patient.date_of_birth:
        patient_resource["birthDate"] = patient.date_of_birth.isoformat()
    entries = [{"fullUrl": patient_ref, "resource": patient_resource}]
    panels = patient.panels.order_by("collected_at", "id").prefetch_related("predictions__model_version")
    for panel in panels:
        basis = []
        for name in EXPORT_CODES:
            value = getattr(panel, name)
            if value is None:
                continue
            observation = _observation(panel, name, value, patient_ref)
            basis.append(_urn("Observation", observation["id"]))
            entries.append({"fullUrl": basis[-1], "resource": observation})
        for prediction in panel.predictions.all():
            if prediction.outcome == rules.NOT_ASSESSED:
                continue  # no class, no probabilities: nothing to assert as a risk
            risk = _risk_assessment(prediction, patient_ref, basis)
            entries.append({"fullUrl": _urn("RiskAssessment", risk["id"]), "resource": risk})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": entries,
    }
