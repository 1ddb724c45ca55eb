"""Retraining: a data manager starts a run; a worker trains a candidate model version on the labelled panels.

A run never touches the active model: it ends with a new ModelVersion in status
``candidate`` (or with no version at all when it fails or its worker dies), and
promotion is a separate, checked step (registry.activate_model_version).
"""

import io
import logging
import shutil
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from diagnostics.access import DATA_MANAGER, has_role, known_user
from diagnostics.models import JobStatus, ModelVersion, TrainingRun
from diagnostics.services.audit import record_event
from diagnostics.services.health import require_broker
from diagnostics.services.holdout import holdout_scores, split_holdout
from diagnostics.services.jobs import (
    JOB_TASKS,
    RequestRefused,
    beat,
    claim_job,
    enqueue,
    fail_job,
    finish_job,
    is_transient,
)
from diagnostics.services.monitoring import store_input_reference
from diagnostics.services.registry import active_model_version, load_predictor, store_artefact
from diagnostics.services.reviews import record_reviews_used
from diagnostics.services.training_data import TrainingFailed, training_records
from diagnostics.services.uploads import read_within_limit
from mlcore.data import MIN_TRAINING_CLASSES, MIN_TRAINING_ROWS, read_uci
from mlcore.predictor import Predictor
from mlcore.schema import CLASSES

logger = logging.getLogger(__name__)

# Parameters a data manager may set: name -> (minimum, maximum).
PARAM_RANGES = {"epochs": (1, 1000), "seed": (0, 2**31 - 1), "max_records": (MIN_TRAINING_ROWS, 10_000_000)}
MODELS_DIR = "models"


class TrainingRejected(RequestRefused):
    """The run cannot start (bad parameter or data file); nothing was created."""


class RunSuperseded(Exception):
    """The run was stopped, or handed to another attempt, while this one trained: nothing is registered."""


def clean_params(params: dict | None) -> dict:
    """Validated training parameters (epochs, seed, max_records), or TrainingRejected naming the problem."""
    clean = {}
    for name, value in (params or {}).items():
        if name not in PARAM_RANGES:
            raise TrainingRejected(f"Unknown parameter {name!r}; use {', '.join(PARAM_RANGES)}.")
        if value is None or value == "":
            continue
        low, high = PARAM_RANGES[name]
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise TrainingRejected(f"{name} {value!r} is not a whole number.") from None
        if isinstance(value, bool) or number != value and str(number) != str(value).strip():
            raise TrainingRejected(f"{name} {value!r} is not a whole number.")
        if not low <= number <= high:
            raise TrainingRejected(f"{name} {number} is outside {low}-{high}.")
        clean[name] = number
    return clean


def resolve_data_file(data_file: str) -> Path:
    """A UCI-format file inside THYROWEB_DATA_DIR or MEDIA_ROOT (a bare name is looked up in THYROWEB_DATA_DIR)."""
    data_dir = Path(settings.THYROWEB_DATA_DIR).resolve()
    path = Path(data_file)
    path = (path if path.is_absolute() else data_dir / path).resolve()
    allowed = (data_dir, Path(settings.MEDIA_ROOT).resolve())
    if not any(path.is_relative_to(root) for root in allowed):
        raise TrainingRejected("The data file must be inside the data folder (THYROWEB_DATA_DIR) or the media folder.")
    if not path.is_file():
        raise TrainingRejected(f"The data file {path.name!r} does not exist in the data folder.")
    return path


def store_uploaded_data_file(uploaded_file) -> str:
    """Keep an uploaded UCI-format file in the file storage (training/…) once it has readable rows; its name."""
    content = read_within_limit(uploaded_file)
    if content is None:
        limit = settings.THYROWEB_MAX_UPLOAD_BYTES
        raise TrainingRejected(f"The data file is larger than the limit of {limit} bytes.")
    result = read_uci(io.BytesIO(content))
    if not result.records:
        first = f" (line {result.errors[0].line}: {result.errors[0].reason})" if result.errors else ""
        raise TrainingRejected(f"The data file has no readable UCI thyroid0387-format rows{first}.")
    return default_storage.save(f"training/upload-{uuid.uuid4().hex}.data", ContentFile(content))


def start_training_run(
    *, user, request=None, data_file=None, params: dict | None = None, include_reviews: bool = False
) -> TrainingRun:
    """Queue a training run on the labelled panels, plus an optional UCI-format file (a name in the data
    folder, or an uploaded file) and, with ``include_reviews``, the panels clinicians reviewed (their
    current review as the label: services/reviews.py); user None = the scheduler. BrokerUnavailable when
    no worker could be reached: refused now rather than "queued", then failed."""
    if user is not None and not has_role(user, DATA_MANAGER):
        raise PermissionDenied("Only a data manager can start a training run.")
    require_broker()
    params = clean_params(params)
    if include_reviews:
        params["include_reviews"] = True
    with transaction.atomic():
        # An uploaded file is stored (a name in the file storage); a named one stays in the data folder (a path).
        if hasattr(data_file, "read"):
            path = Path(store_uploaded_data_file(data_file))
        else:
            path = resolve_data_file(data_file) if data_file else None
        run = TrainingRun.objects.create(
            params=params,
            data_file=str(path) if path else "",
            epochs=params.get("epochs", 0),
            started_by=known_user(user),
            celery_task_id=str(uuid.uuid4()),
        )
        record_event(
            action="training_run.start",
            actor=user,
            request=request,
            obj=run,
            params=params,
            data_file=path.name if path else "",
            scheduled=user is None,
        )
        transaction.on_commit(lambda: enqueue(JOB_TASKS[TrainingRun], TrainingRun, run))
    return run


def process_training_run(*, run_id: int, task_id: str) -> None:
    """Train a candidate for a queued run (from the start again after a lost worker); it ends succeeded or failed.

    The model is trained in a local scratch folder and stored, as an archive, in the file storage with
    its ModelVersion (registry.store_artefact): any process on any machine can load it.
    """
    run = claim_job(TrainingRun, pk=run_id, task_id=task_id)
    if run is None:
        return
    work_dir = Path(tempfile.mkdtemp(prefix=f"thyroweb-run{run.pk}-")) / "model"
    try:
        _train(run, work_dir)
    except RunSuperseded:
        logger.info("training run %s: this attempt no longer owns the run; its model is dropped", run.pk)
    except TrainingFailed as problem:
        fail_job(TrainingRun, pk=run.pk, message=str(problem))
    except Exception as error:
        if is_transient(error):
            raise
        logger.error("training run %s failed: %s", run.pk, type(error).__name__)
        fail_job(TrainingRun, pk=run.pk, message=f"Training stopped on an error ({type(error).__name__}): {error}")
    finally:
        shutil.rmtree(work_dir.parent, ignore_errors=True)


def _train(run: TrainingRun, work_dir: Path) -> None:
    from mlcore.train import train_model  # TensorFlow: imported by the worker that trains, never by the web

    records = training_records(run)
    train, held_out = split_holdout(records)
    counts = {name: sum(1 for r in train if r["label"] == name) for name in CLASSES}
    reviewed = [r for r in train if "review_id" in r]
    reviewed_counts = {name: sum(1 for r in reviewed if r["label"] == name) for name in CLASSES}
    record_reviews_used(run, reviewed)
    if len(train) < MIN_TRAINING_ROWS or sum(1 for n in counts.values() if n) < MIN_TRAINING_CLASSES:
        raise TrainingFailed(
            f"Not enough labelled panels to train: {', '.join(f'{n} {name}' for name, n in counts.items())} "
            f"(at least {MIN_TRAINING_ROWS} rows of {MIN_TRAINING_CLASSES} classes or more)."
        )
    history: list[dict] = []

    def progress(report: dict) -> None:
        # mlcore trains the model ("fit", early-stopped, at most `epochs`), then one model per out-of-fold fold
        # ("cv", for the calibration); every report says which of its `steps` it belongs to.
        history.append(report)
        epoch, epochs = report.get("epoch", 0), report.get("epochs") or run.params.get("epochs") or 0
        step, steps = report.get("step", 1), report.get("steps", 1) or 1
        done = min(1.0, epoch / epochs) if epochs else 0.0
        if report.get("stage") == "cv":
            message = (
                f"Calibrating on out-of-fold predictions: fold {report.get('fold', 0) + 1} of {steps - 1}, "
                f"epoch {epoch} (at most {epochs})."
            )
        else:
            message = f"Training: epoch {epoch} (at most {epochs})."
        TrainingRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING, celery_task_id=run.celery_task_id).update(
            heartbeat_at=timezone.now(),
            epoch=epoch,
            epochs=epochs,
            val_macro_f1=report.get("val_macro_f1"),
            progress=min(1.0, (step - 1 + done) / steps),
            history=history,
            message=message,
        )

    # All rows, each with its "holdout_key": mlcore tests on exactly the fixed held-out rows (the
    # ones compared on below and at promotion) and trains only on the others.
    train_model(records, work_dir, seed=run.params.get("seed", 0), progress=progress, epochs=run.params.get("epochs"))
    predictor = Predictor.load(work_dir)
    try:
        baseline = active_model_version()
    except FileNotFoundError:  # no active version and no model shipped in mlcore: nothing to compare with
        baseline = None
    holdout = {
        "rows": len(held_out),
        "data": f"{len(held_out)} held-out labelled rows (fixed hash split, never trained on)",
        "candidate": holdout_scores(predictor, held_out),
        "baseline_version": baseline.version if baseline else None,
        "baseline": holdout_scores(load_predictor(baseline), held_out) if baseline else None,
    }
    name = f"{predictor.version}-run{run.pk}"
    beat(TrainingRun, run.pk)
    with transaction.atomic():
        version = ModelVersion.objects.create(
            version=name,
            status=ModelVersion.Status.CANDIDATE,
            artefact_path=store_artefact(work_dir, f"{MODELS_DIR}/{name}"),
            metrics={
                **predictor.metadata.get("metrics", {}),
                "holdout": holdout,
                "training_counts": counts,
                "reviewed_counts": reviewed_counts,
            },
            model_card=_read_text(work_dir / "model_card.md"),
            trained_by=run.started_by,
            training_description=_description(run, len(train)),
        )
        # Only the attempt that owns the run finishes it (the healer may have handed it to another worker).
        finished = finish_job(
            TrainingRun,
            pk=run.pk,
            task_id=run.celery_task_id,
            result_version=version,
            message=f"Candidate {name} trained on {len(train)} panels"
            + (f", {len(reviewed)} of them reviewed by clinicians." if run.params.get("include_reviews") else "."),
        )
        if not finished:
            raise RunSuperseded()
        record_event(
            action="training_run.finish",
            actor=run.started_by,
            obj=run,
            version=name,
            rows=len(train),
            reviewed_rows=len(reviewed),
        )
        store_input_reference(version, train, source=f"the {len(train)} training rows of run {run.pk}")


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _description(run: TrainingRun, rows: int) -> str:
    source = "labelled panels in the database" + (f" and {Path(run.data_file).name}" if run.data_file else "")
    if run.params.get("include_reviews"):
        source += ", with the panels clinicians reviewed"
    who = "the periodic retrain" if run.started_by_id is None else "a data manager"
    return f"Training run {run.pk}, started by {who}: {rows} rows from {source}; parameters {run.params or 'default'}."


def start_periodic_retrain() -> TrainingRun | None:
    """The scheduled retrain: a new run unless one is already queued or running."""
    if TrainingRun.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
        return None
    return start_training_run(user=None)
