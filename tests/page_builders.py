"""Builders for the page tests: patients, panels, predictions and model versions with mlcore-shaped metrics."""

from django.utils import timezone

from diagnostics.models import LabPanel, ModelVersion, Patient, Prediction

NORMAL_VALUES = {"TSH": 1.3, "T3": 2.0, "TT4": 104.0, "T4U": 0.96, "FTI": 108.0}


def make_patient(record_number: str = "MRN-0001", sex: str = "F", **fields) -> Patient:
    return Patient.objects.create(record_number=record_number, sex=sex, **fields)


def make_panel(patient: Patient, *, collected_at=None, age: float | None = 45, **values) -> LabPanel:
    return LabPanel.objects.create(
        patient=patient,
        collected_at=collected_at or timezone.now(),
        age=age,
        **{**NORMAL_VALUES, **values},
    )


def metrics(scale: float = 1.0) -> dict:
    """Metrics in the shape mlcore.evaluate.classification_metrics writes."""
    curve = [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.1, "tpr": 0.9 * scale}, {"fpr": 1.0, "tpr": 1.0}]
    pr = [
        {"recall": 0.0, "precision": 1.0},
        {"recall": 0.9, "precision": 0.8 * scale},
        {"recall": 1.0, "precision": 0.1},
    ]
    return {
        "n": 1000,
        "accuracy": 0.97 * scale,
        "macro_f1": 0.94 * scale,
        "precision": {"normal": 0.98, "hyperthyroid": 0.85 * scale, "hypothyroid": 0.93},
        "recall": {"normal": 0.99, "hyperthyroid": 0.91 * scale, "hypothyroid": 0.95},
        "f1": {"normal": 0.985, "hyperthyroid": 0.88 * scale, "hypothyroid": 0.94},
        "support": {"normal": 900, "hyperthyroid": 35, "hypothyroid": 65},
        "confusion_matrix": {
            "labels": ["normal", "hyperthyroid", "hypothyroid"],
            "matrix": [[891, 5, 4], [3, 32, 0], [3, 0, 62]],
        },
        "roc_auc": {"normal": 0.99, "hyperthyroid": 0.98, "hypothyroid": 0.995},
        "roc_curves": {"normal": curve, "hyperthyroid": curve, "hypothyroid": curve},
        "pr_curves": {"normal": pr, "hyperthyroid": pr, "hypothyroid": pr},
        "roc_auc_ovr": 0.99,
        "ece": 0.015,
        "reliability_curve": [
            {"confidence": 0.5, "accuracy": 0.45, "count": 10},
            {"confidence": 0.95, "accuracy": 0.96, "count": 900},
        ],
    }


def make_version(version: str = "test-1", status: str = ModelVersion.Status.ACTIVE, **fields) -> ModelVersion:
    fields.setdefault("metrics", metrics())
    fields.setdefault("model_card", "# Model card\n\n## Intended use\n\n- decision aid\n")
    fields.setdefault("artefact_path", "unused")
    return ModelVersion.objects.create(version=version, status=status, **fields)


def make_prediction(
    panel: LabPanel,
    version: ModelVersion,
    predicted_class: str = "normal",
    *,
    uncertain=False,
    explanation=None,
    outcome: str | None = None,
    reasons=None,
    warnings=None,
) -> Prediction:
    """A stored prediction; an uncertain one is a low-confidence referral unless an outcome is given.
    Not assessed: no class and no probabilities."""
    outcome = outcome or ("refer" if uncertain else "assessed")
    if reasons is None:
        reasons = {
            "refer": [{"code": "low_confidence", "params": {"probability": 0.8, "threshold": 0.9}}],
            "not_assessed": [{"code": "tsh_missing", "params": {}}],
        }.get(outcome, [])
    probabilities = {"normal": 0.1, "hyperthyroid": 0.1, "hypothyroid": 0.1}
    probabilities[predicted_class] = 0.8
    if outcome == "not_assessed":
        predicted_class, probabilities = "", dict.fromkeys(probabilities)
    return Prediction.objects.create(
        panel=panel,
        model_version=version,
        predicted_class=predicted_class,
        uncertain=outcome != "assessed",
        outcome=outcome,
        reasons=reasons,
        warnings=warnings or [],
        explanation=explanation or [],
        **{f"p_{name}": p for name, p in probabilities.items()},
    )
