"""The model registry: model versions, their artefacts, and one loaded predictor per version and process."""

import io
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from diagnostics import process_cache
from diagnostics.access import known_user
from diagnostics.models import ModelVersion
from diagnostics.services.audit import record_event
from diagnostics.services.holdout import holdout_scores, labelled_panel_records, split_holdout
from diagnostics.services.jobs import RequestRefused
from diagnostics.services.reviews import unseen_reviewed_records
from mlcore.predictor import DEFAULT_MODEL_DIR, Predictor

# artefact_path of the model shipped inside mlcore (resolved at run time, so the path survives reinstalls).
SHIPPED = "shipped:"

_lock = threading.Lock()
_predictors: dict[tuple[int, str], object] = {}


def artefact_dir(version: ModelVersion) -> Path:
    """The folder of a version's saved model: the shipped one, an absolute path, or the local copy (under
    MEDIA_ROOT, a cache) of the archive kept in the file storage, unpacked on first use in this machine."""
    if version.artefact_path == SHIPPED:
        return Path(DEFAULT_MODEL_DIR)
    path = Path(version.artefact_path)
    if path.is_absolute():
        return path
    local = Path(settings.MEDIA_ROOT) / path
    if not (local / "metadata.json").exists():
        _unpack_artefact(version.artefact_path, local)
    return local


def artefact_file(version: ModelVersion, name: str) -> bytes | None:
    """One file of a version's saved model (metrics.json, model_card.md), read without writing anything: from
    the model's folder when it is on this machine, else straight out of its archive in the file storage.
    None when there is no such file."""
    if version.artefact_path == SHIPPED or Path(version.artefact_path).is_absolute():
        folder = Path(DEFAULT_MODEL_DIR) if version.artefact_path == SHIPPED else Path(version.artefact_path)
    else:
        folder = Path(settings.MEDIA_ROOT) / version.artefact_path
        if not (folder / "metadata.json").exists():
            return _archived_file(version.artefact_path, name)
    try:
        return (folder / name).read_bytes()
    except OSError:
        return None


def _archived_file(archive: str, name: str) -> bytes | None:
    try:
        with default_storage.open(f"{archive}.tar.gz", "rb") as handle:
            content = handle.read()
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as unpacked:
            member = unpacked.extractfile(name)
            return member.read() if member is not None else None
    except (FileNotFoundError, KeyError, tarfile.TarError):
        return None


def store_artefact(directory: Path, name: str) -> str:
    """Keep a saved model folder in the file storage as ``<name>.tar.gz`` (in the caller's transaction);
    ``name`` is the version's artefact_path."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for item in sorted(directory.rglob("*")):
            if item.is_file():
                archive.add(item, arcname=item.relative_to(directory).as_posix(), recursive=False)
    archive_name = f"{name}.tar.gz"
    if default_storage.exists(archive_name):  # a name stored by an attempt that did not finish
        default_storage.delete(archive_name)
    default_storage.save(archive_name, ContentFile(out.getvalue()))
    return name


def _unpack_artefact(name: str, target: Path) -> None:
    """Unpack ``<name>.tar.gz`` from the file storage into ``target`` (whole, or not at all)."""
    try:
        with default_storage.open(f"{name}.tar.gz", "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return  # neither stored nor in the cache: Predictor.load says which file is missing
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as archive:
            for member in archive.getmembers():  # plain files inside the folder only
                inside = (scratch / member.name).resolve().is_relative_to(scratch.resolve())
                if not member.isfile() or not inside:
                    raise ValueError(f"unexpected member {member.name!r} in the model archive {name}")
                destination = scratch / member.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.extractfile(member).read())
        if target.exists() and not (target / "metadata.json").exists():
            shutil.rmtree(target, ignore_errors=True)  # left half-written by a killed process
        try:
            scratch.rename(target)
        except OSError:  # another process unpacked it at the same moment
            if not (target / "metadata.json").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def load_predictor(version: ModelVersion):
    """The version's Predictor, loaded once per process (no TensorFlow: a numpy forward pass)."""
    key = (version.pk, version.artefact_path)
    predictor = _predictors.get(key)
    if predictor is None:
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


class NoActiveModel(ModelVersion.DoesNotExist):
    """No model version is active (every version retired or a candidate): nothing can be scored."""


def active_model_version() -> ModelVersion:
    """The one active model version (the shipped model on a fresh install); NoActiveModel when none is."""
    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if version is None:
        ensure_default_model_version()
        version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if version is None:
        raise NoActiveModel(
            _("No model is active, so nothing can be scored: ask a data manager to activate a model version.")
        )
    return version


def serving_model_version() -> ModelVersion:
    """The active version for answering a prediction request, looked up at most once per
    THYROWEB_PROCESS_CACHE_SECONDS in this process (jobs and promotion use active_model_version)."""
    return process_cache.active_version.get("active", active_model_version)


# --- Promotion: a candidate replaces the active model only if it is at least as good ---

# Scores on the same rows are compared exactly; this only absorbs float noise.
PROMOTION_TOLERANCE = 1e-9


class PromotionRefused(RequestRefused):
    """The candidate is worse than the active model (or cannot be compared) and no override reason was given."""


def compare_with_active(candidate: ModelVersion, active: ModelVersion) -> dict:
    """Both versions scored on the same held-out panels (the current labelled held-out panels in the
    database, or else the comparison stored at training time when it was made against this active
    version) and, when there are enough, on recent reviewed panels neither version trained on."""
    comparison = _compare_on_held_out(candidate, active)
    comparison["reviewed"] = compare_on_reviews(candidate, active)
    return comparison


def compare_on_reviews(candidate: ModelVersion, active: ModelVersion) -> dict:
    """Both versions on recent reviewed panels that neither trained on (services/reviews.py); the scores
    only when at least THYROWEB_REVIEW_MIN_COMPARISON such panels exist."""

    records = unseen_reviewed_records(candidate, active)
    needed = settings.THYROWEB_REVIEW_MIN_COMPARISON
    result = {"rows": len(records), "needed": needed, "candidate": None, "active": None}
    if len(records) >= needed:
        result["candidate"] = holdout_scores(load_predictor(candidate), records)
        result["active"] = holdout_scores(load_predictor(active), records)
    return result


def _compare_on_held_out(candidate: ModelVersion, active: ModelVersion) -> dict:
    _, held_out = split_holdout(labelled_panel_records())
    if held_out:
        return {
            "held_out_rows": len(held_out),
            "data": "held-out labelled panels in the database",
            "active_version": active.version,
            "candidate": holdout_scores(load_predictor(candidate), held_out),
            "active": holdout_scores(load_predictor(active), held_out),
        }
    stored = candidate.metrics.get("holdout") or {}
    if stored.get("baseline_version") == active.version and stored.get("baseline"):
        return {
            "held_out_rows": stored.get("rows", 0),
            "data": "held-out rows of the training run",
            "active_version": active.version,
            "candidate": stored["candidate"],
            "active": stored["baseline"],
        }
    raise PromotionRefused(
        f"There are no held-out labelled panels on which to compare {candidate.version} with the active "
        f"model {active.version}; give an override reason to activate it anyway."
    )


def promotion_problems(comparison: dict) -> list[str]:
    """What makes the candidate worse than the active model (empty: at least as good on both figures)."""
    problems = []
    reviewed = comparison.get("reviewed") or {}
    for scores, where in ((comparison, ""), (reviewed, " on reviewed panels")):
        if not scores.get("candidate") or not scores.get("active"):
            continue
        for key, label in (("macro_f1", "macro-F1"), ("recall_hyperthyroid", "hyperthyroid recall")):
            candidate, active = scores["candidate"][key] or 0.0, scores["active"][key] or 0.0
            if candidate < active - PROMOTION_TOLERANCE:
                problems.append(f"{label}{where} {candidate:.3f} < {active:.3f}")
    return problems


def activate_model_version(*, version: ModelVersion, user, request=None, override_reason: str = "") -> ModelVersion:
    """Make ``version`` the one active model (the previous one is retired), if the promotion rule allows it.

    The rule: on the same held-out data, the candidate's macro-F1 and hyperthyroid recall are at least
    the active model's. A non-empty ``override_reason`` lets a data manager promote anyway; it is recorded.
    """

    override_reason = (override_reason or "").strip()
    current = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if current is not None and current.pk == version.pk:
        return version
    comparison = None
    if current is not None:
        try:
            comparison = compare_with_active(version, current)
        except PromotionRefused:
            if not override_reason:
                raise
        if comparison is not None and not override_reason:
            problems = promotion_problems(comparison)
            if problems:
                raise PromotionRefused(
                    f"{version.version} is worse than the active model {current.version} on the same "
                    f"{comparison['held_out_rows']} held-out panels ({'; '.join(problems)}); "
                    "give an override reason to activate it anyway."
                )
    with transaction.atomic():
        locked = list(
            ModelVersion.objects.select_for_update().filter(Q(pk=version.pk) | Q(status=ModelVersion.Status.ACTIVE))
        )
        previous = next((v for v in locked if v.status == ModelVersion.Status.ACTIVE and v.pk != version.pk), None)
        if (previous.pk if previous else None) != (current.pk if current else None):
            raise PromotionRefused("The active model changed while this promotion was checked; try again.")
        if previous is not None:
            ModelVersion.objects.filter(pk=previous.pk).update(status=ModelVersion.Status.RETIRED)
        version.refresh_from_db()
        version.status = ModelVersion.Status.ACTIVE
        version.activated_at = timezone.now()
        version.activated_by = known_user(user)
        version.override_reason = override_reason
        if comparison is not None:
            version.metrics = {**version.metrics, "promotion": comparison}
        version.save(update_fields=["status", "activated_at", "activated_by", "override_reason", "metrics"])
        record_event(
            action="model.activate",
            actor=user,
            request=request,
            obj=version,
            version=version.version,
            previous_version=previous.version if previous else None,
            overridden=bool(override_reason),
            override_reason=override_reason,
            comparison=comparison,
        )
    return version


def retire_model_version(*, version: ModelVersion, user, request=None) -> ModelVersion:
    """Retire a candidate. The active model is never retired alone: activating another version retires it,
    so clinicians always have a model to score with."""

    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status == ModelVersion.Status.ACTIVE:
            raise PromotionRefused(
                _("%(version)s is the active model: activate another version first (this one is then retired).")
                % {"version": version.version}
            )
        if version.status != ModelVersion.Status.RETIRED:
            version.status = ModelVersion.Status.RETIRED
            version.save(update_fields=["status"])
            record_event(action="model.retire", actor=user, request=request, obj=version, version=version.version)
    return version
