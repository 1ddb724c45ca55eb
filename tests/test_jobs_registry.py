"""Model registry: promotion of a candidate only when it is at least as good as the active model on the same
held-out data (macro-F1 and hyperthyroid recall), or with a recorded override; exactly one active version."""

import pytest

from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Prediction
from diagnostics.services.holdout import HOLDOUT_PERCENT, holdout_key, is_held_out, labelled_panel_records
from diagnostics.services.intake import score_stored_panel
from diagnostics.services.registry import (
    SHIPPED,
    PromotionRefused,
    activate_model_version,
    ensure_default_model_version,
)
from mlcore import holdout as mlcore_holdout
from tests.job_builders import copy_model, import_dev_panels

pytestmark = pytest.mark.django_db

# Decision weights that make a model answer "normal" for nearly everything: a deliberately worse model.
ALWAYS_NORMAL = {"normal": 1e6, "hyperthyroid": 1e-6, "hypothyroid": 1e-6}


def candidate(small_model_dir, tmp_path, name: str, **changes) -> ModelVersion:
    directory = copy_model(small_model_dir, tmp_path / name, **changes)
    return ModelVersion.objects.create(version=name, artefact_path=str(directory))


def statuses() -> dict[str, str]:
    return dict(ModelVersion.objects.values_list("version", "status"))


def test_a_candidate_as_good_as_the_active_model_is_activated_and_the_old_one_retired(
    active_version, small_model_dir, tmp_path, data_manager
):
    import_dev_panels(600)
    same = candidate(small_model_dir, tmp_path, "same-weights")

    activate_model_version(version=same, user=data_manager)

    assert statuses() == {active_version.version: "retired", "same-weights": "active"}
    same.refresh_from_db()
    assert same.activated_by == data_manager and same.override_reason == ""
    comparison = same.metrics["promotion"]
    assert comparison["active_version"] == active_version.version and comparison["held_out_rows"] > 50
    assert comparison["candidate"]["macro_f1"] == pytest.approx(comparison["active"]["macro_f1"])
    event = AuditEvent.objects.get(action="model.activate")
    assert event.actor == data_manager and event.details["previous_version"] == active_version.version


def test_a_worse_candidate_is_refused_and_nothing_changes(active_version, small_model_dir, tmp_path, data_manager):
    import_dev_panels(600)
    worse = candidate(small_model_dir, tmp_path, "always-normal", decision_weights=ALWAYS_NORMAL)

    with pytest.raises(PromotionRefused, match=r"worse than the active model .*macro-F1 \d\.\d+ < \d\.\d+"):
        activate_model_version(version=worse, user=data_manager)

    assert statuses() == {active_version.version: "active", "always-normal": "candidate"}
    assert not AuditEvent.objects.filter(action="model.activate").exists()


def test_an_override_reason_promotes_a_worse_candidate_and_is_recorded(
    active_version, small_model_dir, tmp_path, data_manager
):
    import_dev_panels(600)
    worse = candidate(small_model_dir, tmp_path, "always-normal", decision_weights=ALWAYS_NORMAL)

    activate_model_version(version=worse, user=data_manager, override_reason="  validated on local lab data  ")

    worse.refresh_from_db()
    assert worse.status == "active" and worse.override_reason == "validated on local lab data"
    assert worse.metrics["promotion"]["candidate"]["macro_f1"] < worse.metrics["promotion"]["active"]["macro_f1"]
    event = AuditEvent.objects.get(action="model.activate")
    assert event.details["overridden"] is True and event.details["override_reason"] == "validated on local lab data"
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_without_held_out_data_a_candidate_needs_an_override(active_version, small_model_dir, tmp_path, data_manager):
    untested = candidate(small_model_dir, tmp_path, "untested")

    with pytest.raises(PromotionRefused, match="no held-out labelled panels"):
        activate_model_version(version=untested, user=data_manager)
    activate_model_version(version=untested, user=data_manager, override_reason="first model of this site")

    assert statuses()["untested"] == "active"


def test_the_training_runs_comparison_is_used_when_it_was_made_against_the_active_model(
    active_version, small_model_dir, tmp_path, data_manager
):
    trained = candidate(small_model_dir, tmp_path, "trained")
    scores = {"macro_f1": 0.9, "recall_hyperthyroid": 0.8}
    trained.metrics = {
        "holdout": {"rows": 900, "candidate": scores, "baseline_version": active_version.version, "baseline": scores}
    }
    trained.save()

    activate_model_version(version=trained, user=data_manager)

    trained.refresh_from_db()
    assert trained.status == "active" and trained.metrics["promotion"]["held_out_rows"] == 900


def test_scoring_uses_the_new_active_version_without_a_restart(active_version, small_model_dir, tmp_path, data_manager):
    import_dev_panels(300)
    panel = LabPanel.objects.first()
    assert score_stored_panel(panel=panel).model_version == active_version
    newer = candidate(small_model_dir, tmp_path, "newer")
    activate_model_version(version=newer, user=data_manager)

    assert score_stored_panel(panel=panel).model_version == newer
    assert Prediction.objects.filter(panel=panel).count() == 2


def test_activating_the_active_version_changes_nothing(active_version, data_manager):
    assert activate_model_version(version=active_version, user=data_manager) == active_version
    assert not AuditEvent.objects.filter(action="model.activate").exists()


def test_the_held_out_split_is_fixed_and_shared_by_database_and_file_rows():
    keys = [holdout_key(panel_id=n) for n in range(5000)]
    held = [key for key in keys if is_held_out(key)]
    assert abs(len(held) / len(keys) - HOLDOUT_PERCENT / 100) < 0.03
    assert held == [key for key in keys if is_held_out(key)]  # the same rows every time
    assert holdout_key(panel_id=7, uci_record_id="840801013") == holdout_key(uci_record_id="840801013")
    # the rule is mlcore's, the one the shipped model and every training run hold out by
    assert holdout_key(uci_record_id="840801013") == mlcore_holdout.holdout_key({"record_id": "840801013"})
    assert HOLDOUT_PERCENT == mlcore_holdout.HOLDOUT_PERCENT
    assert held == [key for key in keys if mlcore_holdout.is_held_out(key)]


def test_the_shipped_model_version_says_it_was_tested_on_the_fixed_held_out_split():
    """So it never saw the held-out panels that promotion compares a candidate with it on."""
    version = ensure_default_model_version()
    assert version.artefact_path == SHIPPED
    assert version.metrics["split"].startswith(mlcore_holdout.SPLIT_DESCRIPTION)
    assert mlcore_holdout.SPLIT_DESCRIPTION in version.model_card


def test_labelled_panel_records_leave_out_other_diagnoses_and_deleted_patients():
    import_dev_panels(200)
    records = labelled_panel_records()
    labelled = LabPanel.objects.filter(diagnosis_class__in=["normal", "hyperthyroid", "hypothyroid"])
    assert len(records) == labelled.count() > 0
    refs = labelled.values_list("source_ref", flat=True)
    assert {r["holdout_key"] for r in records} == {f"uci:{ref}" for ref in refs}
    patient = labelled.first().patient
    patient.deleted_at = patient.created_at
    patient.save()
    assert len(labelled_panel_records()) == len(records) - patient.panels.count()
