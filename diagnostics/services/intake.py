"""Recording and scoring a panel: the one service behind every way a panel comes in.

Each way in (the lab form, the API's predict, bulk predict and patient panels, FHIR bundles, CSV and UCI
files, HL7 v2, CDS Hooks) reads its own format and hands it to ``mlcore.intake.take_panel``; the clean
:class:`~mlcore.intake.Panel` it gets back comes here:

- :func:`score_values` answers a panel without storing anything;
- :func:`record_panel` stores it for a patient, scores it and audits both, in one transaction;
- :func:`score_panels` is the one scoring path under both, for one panel or a whole batch (bulk predict,
  CSV job chunks, the set-up scoring of stored panels): the same model version, the same rules, the same
  answer whichever way the panel came;
- :func:`patient_for` finds or creates the patient a panel belongs to.

Every function here takes a ``Panel``, never a dict: a panel that did not go through the intake cannot be
scored or stored by mistake. The few small rules every way in shares (the record number, the date of
birth, the age from it) live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from diagnostics.access import known_user
from diagnostics.models import PANEL_VALUE_FIELDS, LabPanel, ModelVersion, Patient, Prediction
from diagnostics.services.audit import record_event
from diagnostics.services.registry import active_model_version, load_predictor, serving_model_version
from mlcore import rules
from mlcore.intake import Panel
from mlcore.predictor import PredictionResult
from mlcore.schema import AGE_MAX, AGE_MIN, CLASSES

RECORD_NUMBER_MAX = Patient._meta.get_field("record_number").max_length
# A date of birth is plausible from this day to today (the oldest documented people were born after it).
EARLIEST_BIRTH = date(1880, 1, 1)


class PatientDeleted(Exception):
    """The record number belongs to a soft-deleted patient: nothing may be added to it."""


# --- The small rules every way in shares ---


def record_number_problem(number, *, name: str = "record_number") -> str | None:
    """Why a medical record number cannot be stored (None when it can): 1 to RECORD_NUMBER_MAX characters
    of text, no NUL (PostgreSQL text cannot hold one)."""
    if not isinstance(number, str) or not number.strip() or len(number.strip()) > RECORD_NUMBER_MAX:
        return f"{name} must be a medical record number (1 to {RECORD_NUMBER_MAX} characters)"
    if "\x00" in number:
        return f"{name} must not contain NUL characters"
    return None


def plausible_date_of_birth(born: date) -> bool:
    """A past date, after EARLIEST_BIRTH."""
    return EARLIEST_BIRTH <= born <= timezone.localdate()


def age_at(date_of_birth: date | None, when: datetime | None) -> int | None:
    """Age in completed years on the collection day (local time; now when ``when`` is None); None without a
    date of birth or when that age is not plausible (mlcore.schema's AGE_MIN-AGE_MAX: born after the sample)."""
    if date_of_birth is None:
        return None
    when = when or timezone.now()
    day = timezone.localtime(when).date() if timezone.is_aware(when) else when.date()
    years = day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
    return years if AGE_MIN <= years <= AGE_MAX else None


# --- Patients ---


@transaction.atomic
def patient_for(
    *, record_number: str, sex: str | None = None, date_of_birth: date | None = None, user=None, request=None
) -> Patient:
    """The patient with this record number, created if new; a date of birth is kept if none was stored.
    Creating and completing a patient are audited. PatientDeleted for a soft-deleted patient."""
    patient, created = Patient.objects.get_or_create(
        record_number=record_number, defaults={"sex": sex or "", "date_of_birth": date_of_birth}
    )
    if created:
        record_event(action="patient.create", actor=user, request=request, obj=patient)
    elif patient.deleted_at is not None:
        raise PatientDeleted(record_number)
    elif date_of_birth is not None and patient.date_of_birth is None:
        patient.date_of_birth = date_of_birth
        patient.save(update_fields=["date_of_birth", "updated_at"])
        record_event(action="patient.update", actor=user, request=request, obj=patient, fields=["date_of_birth"])
    return patient


# --- Scoring ---


def _checked(panels: Sequence[Panel]) -> None:
    for panel in panels:
        if not isinstance(panel, Panel):
            raise TypeError(f"a panel to score must come from mlcore.intake.take_panel, not {type(panel).__name__}")


def score_panels(
    panels: Sequence[Panel], *, version: ModelVersion | None = None, explain: bool = False, predictor=None
) -> tuple[list[PredictionResult], ModelVersion]:
    """The one scoring path: each panel's answer by the version (default: the serving active version), in
    order. ``predictor``: the version's, when the caller holds it already (a job scoring chunk after chunk)."""
    _checked(panels)
    version = version or serving_model_version()
    predictor = predictor or load_predictor(version)
    return predictor.predict([panel.record() for panel in panels], explain=explain), version


def score_values(
    panel: Panel, *, version: ModelVersion | None = None, explain: bool = True
) -> tuple[PredictionResult, ModelVersion]:
    """One panel's answer, nothing stored: (PredictionResult, the version that scored it)."""
    results, version = score_panels([panel], version=version, explain=explain)
    return results[0], version


def prediction_fields(result: PredictionResult) -> dict:
    """The Prediction columns an answer fills (all of them but the panel, the version and who asked)."""
    probabilities = result.probabilities or {}
    return {
        "outcome": result.outcome,
        "predicted_class": result.predicted_class or "",
        "uncertain": result.uncertain,
        "reasons": result.reasons,
        "warnings": result.warnings,
        "notes": result.notes,
        "conditions": result.conditions,
        "pattern": result.pattern,
        "explanation": result.explanation,
        **{f"p_{name}": probabilities.get(name) for name in CLASSES},
    }


def stored_result(prediction: Prediction) -> PredictionResult:
    """A stored prediction as the answer it was made from."""
    return PredictionResult(
        predicted_class=prediction.predicted_class or None,
        probabilities=prediction.probabilities,
        uncertain=prediction.uncertain,
        explanation=prediction.explanation,
        outcome=prediction.outcome,
        reasons=prediction.reasons,
        warnings=prediction.warnings,
        pattern=prediction.pattern,
        notes=prediction.notes,
        conditions=prediction.conditions,
    )


# --- Stored panels ---


def panel_record(panel: LabPanel) -> dict:
    """A stored panel's values as the intake gives them (sex is the patient's)."""
    record = {field: getattr(panel, field) for field in PANEL_VALUE_FIELDS}
    record["sex"] = panel.patient.sex or None
    return record


def stored_panel(panel: LabPanel) -> Panel:
    """A stored panel as a clean Panel again: its values and what was received with them (units,
    qualifiers, reference ranges), for scoring it with another version or explaining it later."""
    return Panel(panel_record(panel), dict(panel.received or {}))


def score_stored_panel(*, panel: LabPanel, user=None, request=None, version: ModelVersion | None = None) -> Prediction:
    """The stored panel's prediction by the version (default: active), computed once and stored (audited)."""
    version = version or active_model_version()
    existing = Prediction.objects.filter(panel=panel, model_version=version).first()
    if existing is not None:
        return existing
    result, _ = score_values(stored_panel(panel), version=version, explain=True)
    prediction = Prediction(
        panel=panel, model_version=version, requested_by=known_user(user), **prediction_fields(result)
    )
    try:
        with transaction.atomic():
            prediction.save()
    except IntegrityError:  # scored concurrently by another request
        return Prediction.objects.get(panel=panel, model_version=version)
    record_event(
        action="prediction.create",
        actor=user,
        request=request,
        obj=prediction,
        panel_id=panel.pk,
        model_version=version.version,
        predicted_class=prediction.predicted_class,
    )
    return prediction


def _store_panel(
    *, patient: Patient, panel: Panel, source: str, collected_at, source_ref: str, user, request
) -> LabPanel:
    values = panel.values
    if values.get("sex") and not patient.sex:
        patient.sex = values["sex"]
        patient.save(update_fields=["sex", "updated_at"])
    collected_at = collected_at or timezone.now()
    row = {field: values[field] for field in PANEL_VALUE_FIELDS}
    if row["age"] is None:  # no age given: from the patient's date of birth, when known
        row["age"] = age_at(patient.date_of_birth, collected_at)
    lab_panel = LabPanel(
        patient=patient,
        collected_at=collected_at,
        source=source,
        source_ref=source_ref,
        received=panel.received,
        created_by=known_user(user),
        **row,
    )
    lab_panel.full_clean(exclude=["patient", "created_by"])
    lab_panel.save()
    record_event(action="panel.create", actor=user, request=request, obj=lab_panel, source=source)
    return lab_panel


@transaction.atomic
def record_panel(
    *,
    patient: Patient,
    panel: Panel,
    source: str,
    collected_at: datetime | None = None,
    source_ref: str = "",
    user=None,
    request=None,
    version: ModelVersion | None = None,
) -> tuple[LabPanel, Prediction]:
    """Store a clean panel for the patient and its prediction by the one scoring path (default: the active
    version), auditing both, in one transaction: if scoring fails, nothing is stored."""
    _checked([panel])
    lab_panel = _store_panel(
        patient=patient,
        panel=panel,
        source=source,
        collected_at=collected_at,
        source_ref=source_ref,
        user=user,
        request=request,
    )
    return lab_panel, score_stored_panel(panel=lab_panel, user=user, request=request, version=version)


def explanation_of(prediction: Prediction) -> list[dict]:
    """The stored explanation or, for a bulk-scored panel, the same version's explanation computed now."""
    if prediction.explanation or prediction.outcome == rules.NOT_ASSESSED:
        return prediction.explanation
    try:
        result, _ = score_values(stored_panel(prediction.panel), version=prediction.model_version, explain=True)
    except OSError:  # the version's artefact is gone: nothing to explain with
        return []
    return result.explanation


def panel_warnings(panel: LabPanel) -> list[rules.Reason]:
    """The coded input warnings of a stored panel's values (mlcore.rules), whatever scored it."""
    return rules.input_warnings(stored_panel(panel).record())
