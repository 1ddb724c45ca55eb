"""Database and validation rules of the domain objects."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from diagnostics.models import AppendOnlyError, AuditEvent, LabPanel, ModelVersion, Patient, Prediction

pytestmark = pytest.mark.django_db


def make_panel(**values) -> LabPanel:
    patient, _ = Patient.objects.get_or_create(record_number="MRN-1")
    return LabPanel.objects.create(patient=patient, **values)


def test_medical_record_number_is_unique():
    Patient.objects.create(record_number="MRN-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(record_number="MRN-1")


def test_out_of_range_tsh_is_refused_by_validation_with_a_message_naming_the_field():
    panel = LabPanel(patient=Patient.objects.create(record_number="MRN-2"), TSH=1200)
    with pytest.raises(ValidationError) as refused:
        panel.full_clean()
    assert refused.value.message_dict["TSH"] == ["TSH 1200 mU/L is above the plausible maximum 1000 mU/L"]


@pytest.mark.parametrize(
    "field, value",
    [("TSH", 1200), ("TSH", -1), ("T3", 25), ("TT4", 800), ("T4U", 0.01), ("FTI", 1001), ("TBG", 301), ("age", 130)],
)
def test_database_check_constraints_refuse_implausible_values(field, value):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        make_panel(**{field: value})
    assert f"panel_{field.lower()}_plausible" in str(refused.value)


def test_plausible_and_missing_values_are_stored():
    panel = make_panel(TSH=45.0, T3=None, TT4=48, T4U=0.9, FTI=53, age=61)
    assert LabPanel.objects.get(pk=panel.pk).TSH == 45.0


def version(name: str, status: str) -> ModelVersion:
    return ModelVersion.objects.create(version=name, status=status, artefact_path=f"models/{name}")


def test_at_most_one_model_version_is_active():
    version("v1", "active")
    version("v2", "candidate")
    with pytest.raises(IntegrityError), transaction.atomic():
        version("v3", "active")


def test_a_panel_has_one_prediction_per_model_version():
    panel = make_panel(TSH=1.0)
    v1 = version("v1", "active")
    probabilities = {"p_normal": 0.9, "p_hyperthyroid": 0.05, "p_hypothyroid": 0.05}
    Prediction.objects.create(panel=panel, model_version=v1, predicted_class="normal", **probabilities)
    with pytest.raises(IntegrityError), transaction.atomic():
        Prediction.objects.create(panel=panel, model_version=v1, predicted_class="normal", **probabilities)
    Prediction.objects.create(
        panel=panel, model_version=version("v2", "candidate"), predicted_class="normal", **probabilities
    )
    assert panel.predictions.count() == 2


def test_audit_events_are_append_only():
    event = AuditEvent.objects.create(action="patient.view", object_type="patient", object_id="1")
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "patient.view"
