"""Scoring lab panels with a model version: the one path used by pages, API and jobs."""

from django.db import IntegrityError, transaction

from diagnostics.models import LabPanel, ModelVersion, Prediction
from diagnostics.services.audit import record_event
from diagnostics.services.panels import panel_record
from diagnostics.services.registry import active_model_version, load_predictor, serving_model_version
from mlcore import rules
from mlcore.schema import CLASSES


def predict_values(clean: dict, *, version: ModelVersion | None = None):
    """Score validated values without storing anything: (PredictionResult, version)."""
    version = version or serving_model_version()
    return load_predictor(version).predict([clean], explain=True)[0], version


def prediction_from_result(*, panel: LabPanel, version: ModelVersion, result, user=None) -> Prediction:
    """An unsaved Prediction row from an mlcore PredictionResult."""
    probabilities = result.probabilities or {}
    return Prediction(
        panel=panel,
        model_version=version,
        outcome=result.outcome,
        predicted_class=result.predicted_class or "",
        uncertain=result.uncertain,
        reasons=result.reasons,
        warnings=result.warnings,
        pattern=result.pattern,
        explanation=result.explanation,
        requested_by=user if user is not None and user.is_authenticated else None,
        **{f"p_{name}": probabilities.get(name) for name in CLASSES},
    )


def score_panel(*, panel: LabPanel, user=None, request=None, version: ModelVersion | None = None) -> Prediction:
    """The panel's prediction by the version (default: active), computed once and stored."""
    version = version or active_model_version()
    existing = Prediction.objects.filter(panel=panel, model_version=version).first()
    if existing is not None:
        return existing
    result = load_predictor(version).predict([panel_record(panel)], explain=True)[0]
    prediction = prediction_from_result(panel=panel, version=version, result=result, user=user)
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


def explanation_of(prediction: Prediction) -> list[dict]:
    """The stored explanation or, for a bulk-scored panel, the same model version's explanation computed now."""
    if prediction.explanation or prediction.outcome == rules.NOT_ASSESSED:
        return prediction.explanation
    try:
        predictor = load_predictor(prediction.model_version)
    except OSError:  # the version's artefact is gone: nothing to explain with
        return []
    return predictor.predict([panel_record(prediction.panel)], explain=True)[0].explanation


def panel_warnings(panel: LabPanel) -> list[rules.Reason]:
    """The coded input warnings of a stored panel's values (mlcore.rules), whatever scored it."""
    return rules.input_warnings(panel_record(panel))
