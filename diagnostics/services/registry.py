"""The model registry: model versions, their artefacts, and one loaded predictor per version and process."""

import threading
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from diagnostics.models import ModelVersion

# artefact_path of the model shipped inside mlcore (resolved at run time, so the path survives reinstalls).
SHIPPED = "shipped:"

_lock = threading.Lock()
_predictors: dict[tuple[int, str], object] = {}


def artefact_dir(version: ModelVersion) -> Path:
    if version.artefact_path == SHIPPED:
        from mlcore.predictor import DEFAULT_MODEL_DIR

        return Path(DEFAULT_MODEL_DIR)
    path = Path(version.artefact_path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def load_predictor(version: ModelVersion):
    """The version's Predictor, loaded once per process (no TensorFlow: a numpy forward pass)."""
    key = (version.pk, version.artefact_path)
    predictor = _predictors.get(key)
    if predictor is None:
        from mlcore.predictor import Predictor

        with _lock:
            predictor = _predictors.get(key)
            if predictor is None:
                predictor = Predictor.load(artefact_dir(version))
                _predictors[key] = predictor
    return predictor


def _model_card(directory: Path) -> str:
    card = directory / "model_card.md"
    return card.read_text(encoding="utf-8") if card.exists() else ""


def ensure_default_model_version() -> ModelVersion:
    """Register the shipped model; it becomes active when no version is."""
    from mlcore.predictor import DEFAULT_MODEL_DIR, Predictor

    predictor = Predictor.load(DEFAULT_MODEL_DIR)
    version = ModelVersion.objects.filter(version=predictor.version).first()
    if version is not None:
        return version
    try:
        with transaction.atomic():
            has_active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()
            return ModelVersion.objects.create(
                version=predictor.version,
                status=ModelVersion.Status.CANDIDATE if has_active else ModelVersion.Status.ACTIVE,
                artefact_path=SHIPPED,
                metrics=predictor.metadata.get("metrics", {}),
                model_card=_model_card(Path(DEFAULT_MODEL_DIR)),
                training_description="Shipped with ThyroWeb: trained on the Garvan thyroid0387 development subset.",
            )
    except IntegrityError:  # another process registered it at the same moment
        return ModelVersion.objects.get(version=predictor.version)


def active_model_version() -> ModelVersion:
    """The one active model version (the shipped model on a fresh install)."""
    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if version is None:
        ensure_default_model_version()
        version = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    return version
