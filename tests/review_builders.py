"""Builders for the review and monitoring tests: panels from the dev data, predictions, reviews."""

from django.utils import timezone

from diagnostics.models import PANEL_VALUE_FIELDS, LabPanel, Patient, Prediction
from mlcore import rules
from tests.job_builders import dev_records


def panels_from_records(records: list[dict], *, prefix: str, tsh_factor: float = 1.0) -> list[LabPanel]:
    """Stored panels (source form, no known diagnosis) with the records' values; TSH multiplied by
    ``tsh_factor`` (0.001: TSH typed in mU/mL, the wrong unit)."""
    panels = []
    for index, record in enumerate(records):
        patient = Patient.objects.create(record_number=f"{prefix}-{index}", sex=record.get("sex") or "")
        values = {field: record.get(field) for field in PANEL_VALUE_FIELDS}
        if values["TSH"] is not None:
            values["TSH"] = values["TSH"] * tsh_factor
        panels.append(LabPanel(patient=patient, **values))
    return LabPanel.objects.bulk_create(panels)


def dev_sample_panels(*, step: int, offset: int = 0, prefix: str = "DEV", tsh_factor: float = 1.0) -> list[LabPanel]:
    """Panels from every ``step``-th record of the whole dev file: a sample drawn like the training data
    (its first lines are not: they are the 1984 records, measured with an older TSH assay)."""
    records = dev_records(100_000)[offset::step]
    return panels_from_records(records, prefix=prefix, tsh_factor=tsh_factor)


def stored_prediction(panel, version, predicted_class: str = "normal", *, outcome=rules.ASSESSED, reasons=(), at=None):
    """A stored prediction with the given outcome (no class when not assessed)."""
    fields = {"predicted_class": "", "p_normal": None, "p_hyperthyroid": None, "p_hypothyroid": None}
    if outcome != rules.NOT_ASSESSED:
        probabilities = dict.fromkeys(("normal", "hyperthyroid", "hypothyroid"), 0.05)
        probabilities[predicted_class] = 0.9
        fields = {"predicted_class": predicted_class, **{f"p_{k}": v for k, v in probabilities.items()}}
    return Prediction.objects.create(
        panel=panel,
        model_version=version,
        outcome=outcome,
        uncertain=outcome != rules.ASSESSED,
        reasons=[{"code": code, "params": {}} for code in reasons],
        created_at=at or timezone.now(),
        **fields,
    )
