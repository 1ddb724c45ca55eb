"""Creating patients and lab panels from validated values (forms, API, imports)."""

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from mlcore.schema import AGE_MAX, AGE_MIN, HISTORY_FLAGS, LAB_TESTS

PANEL_VALUE_FIELDS = ("age", *HISTORY_FLAGS, "referral_source", *LAB_TESTS)


def panel_values(clean: dict) -> dict:
    """LabPanel field values from a panel validated by ``mlcore.schema.validate_panel``."""
    return {field: clean[field] for field in PANEL_VALUE_FIELDS}


def panel_record(panel: LabPanel) -> dict:
    """A stored panel as the model's input (the shape ``validate_panel`` returns)."""
    record = {field: getattr(panel, field) for field in PANEL_VALUE_FIELDS}
    record["sex"] = panel.patient.sex or None
    return record


def age_at(date_of_birth: date | None, when: datetime) -> int | None:
    """Age in completed years on the collection date; None without a date of birth or if it is not plausible."""
    if date_of_birth is None:
        return None
    day = timezone.localtime(when).date() if timezone.is_aware(when) else when.date()
    years = day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
    return years if AGE_MIN <= years <= AGE_MAX else None


@transaction.atomic
def create_panel(
    *,
    patient: Patient,
    clean: dict,
    source: str = LabPanel.Source.FORM,
    user=None,
    request=None,
    collected_at: datetime | None = None,
    source_ref: str = "",
    received: dict | None = None,
) -> LabPanel:
    """Store one validated panel for a patient and record it in the audit trail; ``received`` keeps the
    values that came with a unit as they were sent (mlcore.units.convert_panel)."""
    if clean.get("sex") and not patient.sex:
        patient.sex = clean["sex"]
        patient.save(update_fields=["sex", "updated_at"])
    collected_at = collected_at or timezone.now()
    values = panel_values(clean)
    if values["age"] is None:  # no age given: from the patient's date of birth, when known
        values["age"] = age_at(patient.date_of_birth, collected_at)
    panel = LabPanel(
        patient=patient,
        collected_at=collected_at,
        source=source,
        source_ref=source_ref,
        received=received or {},
        created_by=user if user is not None and user.is_authenticated else None,
        **values,
    )
    panel.full_clean(exclude=["patient", "created_by"])
    panel.save()
    record_event(action="panel.create", actor=user, request=request, obj=panel, source=source)
    return panel


@transaction.atomic
def get_or_create_patient(
    *, record_number: str, sex: str | None = None, date_of_birth: date | None = None, user=None, request=None
) -> Patient:
    """The patient with this record number, created if new; a date of birth is kept if none was stored."""
    patient, created = Patient.objects.get_or_create(
        record_number=record_number, defaults={"sex": sex or "", "date_of_birth": date_of_birth}
    )
    if created:
        record_event(action="patient.create", actor=user, request=request, obj=patient)
    elif date_of_birth is not None and patient.date_of_birth is None:
        patient.date_of_birth = date_of_birth
        patient.save(update_fields=["date_of_birth", "updated_at"])
        record_event(action="patient.update", actor=user, request=request, obj=patient, fields=["date_of_birth"])
    return patient
