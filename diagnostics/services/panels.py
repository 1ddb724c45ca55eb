"""Creating patients and lab panels from validated values (forms, API, imports)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from mlcore.schema import HISTORY_FLAGS, LAB_TESTS

PANEL_VALUE_FIELDS = ("age", *HISTORY_FLAGS, "referral_source", *LAB_TESTS)


def panel_values(clean: dict) -> dict:
    """LabPanel field values from a panel validated by ``mlcore.schema.validate_panel``."""
    return {field: clean[field] for field in PANEL_VALUE_FIELDS}


def panel_record(panel: LabPanel) -> dict:
    """A stored panel as the model's input (the shape ``validate_panel`` returns)."""
    record = {field: getattr(panel, field) for field in PANEL_VALUE_FIELDS}
    record["sex"] = panel.patient.sex or None
    return record


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
    panel = LabPanel(
        patient=patient,
        collected_at=collected_at or timezone.now(),
        source=source,
        source_ref=source_ref,
        received=received or {},
        created_by=user if user is not None and user.is_authenticated else None,
        **panel_values(clean),
    )
    panel.full_clean(exclude=["patient", "created_by"])
    panel.save()
    record_event(action="panel.create", actor=user, request=request, obj=panel, source=source)
    return panel


@transaction.atomic
def get_or_create_patient(*, record_number: str, sex: str | None = None, user=None, request=None) -> Patient:
    patient, created = Patient.objects.get_or_create(record_number=record_number, defaults={"sex": sex or ""})
    if created:
        record_event(action="patient.create", actor=user, request=request, obj=patient)
    return patient
