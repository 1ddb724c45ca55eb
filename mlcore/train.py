"""Training: split, fit the preprocessing and the TabM network, calibrate, save the model directory."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mlcore import calibration
from mlcore.data import class_indices, labelled_frame, split_frame  # noqa: F401 (labelled_frame re-exported)
from mlcore.evaluate import PARTIAL_PANELS, subgroup_metrics
from mlcore.holdout import SPLIT_DESCRIPTION, holdout_key, is_held_out
from mlcore.masking import MASKING_RECIPE, masked_copy, with_masked_copy
from mlcore.preprocessing import Preprocessor
from mlcore.schema import CLASSES, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES

Progress = Callable[[dict], None]

# What metadata.json (and so a registered model version) keeps of metrics.json.
SUMMARY_METRICS = (
    "n",
    "accuracy",
    "macro_f1",
    "precision",
    "recall",
    "f1",
    "roc_auc_ovr",
    "ece",
    "ece_uncalibrated",
    "split",
    "n_not_assessed",
    "n_refer",
    "referral_rate",
    "accuracy_not_referred",
    "all_rules",
    "subgroups",
    "partial_panels",
)


@dataclass
class TrainingConfig:
    """Hyper-parameters; the defaults are those of the shipped model (see MODELING.md and the model card)."""

    k: int = 4
    width: int = 64
    depth: int = 2
    dropout: float = 0.1
    learning_rate: float = 2e-3
    weight_decay: float = 3e-4
    batch_size: int = 512
    max_epochs: int = 150
    patience: int = 12
    class_weight_power: float = 0.5
    max_leaves: int = 16
    min_leaf: int = 24
    # A step bit at each tree-cut edge where the bins' leading class changes (mlcore.preprocessing):
    # the labels' cut-offs.
    step_bits: bool = True
    val_size: float = 0.15
    test_size: float = 0.15
    # TabM networks averaged (initialised with seeds seed, seed + 1, ...; trained side by side in
    # one Keras model, on the same batches, with one early-stopping epoch): the shipped model is not
    # one draw of a seed lottery. Training time grows with members * k (12 members here).
    members: int = 3
    # Temperature and the low-confidence threshold are fitted on pooled out-of-fold predictions of
    # this many folds of the training rows (each fold trains the same ensemble on the others).
    oof_folds: int = 5
    # Train (and early-stop) on the rows plus a copy with labs masked (mlcore.masking).
    mask_labs: bool = True
    # Decision rule: argmax of calibrated probabilities times these per-class weights. A fixed
    # cost ratio (a missed hyperthyroid case counts 1.5 false alarms) proved steadier across folds
    # than weights tuned on the ~20 hyperthyroid cases of a validation split (tune_decision_weights,
    # now tuned on the pooled out-of-fold predictions when set).
    decision_weights: tuple[float, float, float] = (1.0, 1.5, 1.0)
    tune_decision_weights: bool = False
    # Low-confidence referral: the smallest top-probability threshold with this accuracy on the
    # out-of-fold complete panels answered, referring at most max_referral of them.
    target_accuracy: float = 0.995
    max_referral: float = 0.10


def explanation_baseline(frame) -> dict:
    """The reference panel explanations are measured from: a typical 'normal' training panel."""
    normal = frame[frame["label"] == "normal"]
    if normal.empty:
        normal = frame
    baseline: dict = {name: False for name in HISTORY_FLAGS}
    baseline["age"] = float(normal["age"].median()) if normal["age"].notna().any() else None
    for name in LAB_TESTS:
        measured = normal[name].notna()
        baseline[name] = float(normal.loc[measured, name].median()) if measured.mean() > 0.5 else None
    sexes = normal["sex"].dropna()
    baseline["sex"] = str(sexes.mode().iloc[0]) if len(sexes) else None
    referral = normal["referral_source"].dropna()
    baseline["referral_source"] = str(referral.mode().iloc[0]) if len(referral) else REFERRAL_SOURCES[-1]
    return baseline


def record_holdout_keys(frame) -> list[str | None]:
    """Each row's fixed held-out key (mlcore.holdout.holdout_key), None where the row has no stable id."""
    missing = [None] * len(frame)
    given = frame["holdout_key"].tolist() if "holdout_key" in frame.columns else missing
    record_ids = frame["record_id"].tolist() if "record_id" in frame.columns else missing
    return [holdout_key({"holdout_key": k, "record_id": r}) for k, r in zip(given, record_ids, strict=True)]


def split_for_training(frame, *, seed: int, config: TrainingConfig):
    """(train, validation, test, description of the split).

    When every row has a held-out key (a UCI record id, or a "holdout_key" given by the caller),
    the test split is exactly the rows of the fixed hash held-out split, which are never trained
    on, and validation is a stratified seeded split of the other rows, ``val_size`` of all rows.
    Otherwise (a plain CSV, rows without ids) a stratified random train / validation / test split.
    """
    from sklearn.model_selection import train_test_split

    keys = record_holdout_keys(frame)
    if not keys or any(key is None for key in keys):
        train, val, test = split_frame(frame, seed=seed, val_size=config.val_size, test_size=config.test_size)
        description = f"held-out test split ({config.test_size:.0%} of the labelled rows, stratified, seed {seed})"
        return train, val, test, description
    held_out = np.array([is_held_out(key) for key in keys])
    test, rest = frame[held_out], frame[~held_out]
    if len(test) == 0 or len(rest) < 10:
        raise ValueError(
            f"the fixed held-out split leaves {len(rest)} rows to train on and {len(test)} to test on; "
            "need more labelled rows"
        )
    stratify = rest["label"] if rest["label"].value_counts().min() >= 5 else None
    val_share = min(0.5, config.val_size * len(frame) / len(rest))
    train, val = train_test_split(rest, test_size=val_share, random_state=seed, stratify=stratify)
    how = "stratified" if stratify is not None else "random (a class has under 5 rows)"
    description = f"{SPLIT_DESCRIPTION}; validation {config.val_size:.0%} of the rows, {how}, seed {seed}"
    return train.reset_index(drop=True), val.reset_index(drop=True), test.reset_index(drop=True), description


@dataclass
class TrainedModel:
    """A fitted preprocessor and Keras network (the seeds' networks side by side) with its calibration."""

    preprocessor: Preprocessor
    network: object  # keras.Model
    temperature: float = 1.0
    decision_weights: list[float] = field(default_factory=lambda: [1.0] * len(CLASSES))
    uncertain_threshold: float = 0.5
    best_epoch: int = 0
    epochs_run: int = 0
    history: list[dict] = field(default_factory=list)

    def raw_probabilities(self, frame) -> np.ndarray:
        from mlcore.model import mean_probabilities

        return mean_probabilities(self.network, self.preprocessor.transform(frame))

    def predict_proba(self, frame) -> np.ndarray:
        return calibration.apply_temperature(self.raw_probabilities(frame), self.temperature)

    def predict_classes(self, frame) -> np.ndarray:
        return calibration.decide(self.predict_proba(frame), self.decision_weights)


def _configure_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        # Two cores shared with other work: stay modest and reproducible.
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(2)
    except RuntimeError:
        pass  # already initialised in this process
    tf.config.experimental.enable_op_determinism()


def _validation_rows(labels, *, seed: int, val_size: float) -> np.ndarray:
    """A boolean mask of a stratified (when every class has 5 rows) seeded validation split."""
    from sklearn.model_selection import train_test_split

    stratify = labels if labels.value_counts().min() >= 5 else None
    _, val_index = train_test_split(np.arange(len(labels)), test_size=val_size, random_state=seed, stratify=stratify)
    held = np.zeros(len(labels), dtype=bool)
    held[val_index] = True
    return held


def fit_ensemble(
    rows,
    *,
    seed: int = 0,
    config: TrainingConfig | None = None,
    epochs: int | None = None,
    report: Callable[[dict], None] | None = None,
) -> TrainedModel:
    """The preprocessing fitted on ``rows``, then ``config.members`` TabM networks (initialised with
    seeds seed, seed + 1, ...) trained side by side in one Keras model on ``rows`` and their masked
    copy (``config.mask_labs``), each network leaving out its own stratified validation rows;
    early-stopped on the mean over networks of the log-loss of each network's averaged prediction
    on its validation rows. ``report`` gets one dict per epoch.

    Not calibrated: temperature and threshold come from out-of-fold predictions (calibrate_on_oof).
    """
    _configure_tensorflow()
    import keras

    from mlcore.model import build_model, member_probabilities, seed_ensemble

    config = config or TrainingConfig()
    max_epochs = epochs or config.max_epochs
    min_leaf = max(5, min(config.min_leaf, len(rows) // 60))
    preprocessor = Preprocessor(max_leaves=config.max_leaves, min_leaf=min_leaf, step_bits=config.step_bits).fit(
        rows, rows["label"], seed=seed
    )
    rows = rows.reset_index(drop=True)
    # Network m leaves out its own stratified validation rows (seed + m): each early-stopping
    # judgement is on rows that network never saw, and between them the networks learn from every row.
    held = np.stack(
        [_validation_rows(rows["label"], seed=seed + m, val_size=config.val_size) for m in range(config.members)], 1
    )
    if config.mask_labs:
        # A row's masked copy is held out with the row: early stopping judges the partial panels the
        # model has to serve too, and no copy of a validation row is trained on.
        rows = with_masked_copy(rows, seed=seed)
        held = np.concatenate([held, held])
    y = class_indices(rows["label"])
    x = preprocessor.transform(rows)
    counts = np.bincount(y[~held[:, 0]], minlength=len(CLASSES)).astype(float)
    class_weight = (counts.sum() / (len(CLASSES) * np.maximum(counts, 1))) ** config.class_weight_power
    all_members = config.k * config.members
    sample_weight = np.repeat(np.where(held, 0.0, class_weight[y][:, None]), config.k, axis=1).astype("float32")
    somewhere = held.any(axis=1)
    x_held, y_held, held_rows = x[somewhere], y[somewhere], held[somewhere]

    keras.utils.set_random_seed(seed)
    model = seed_ensemble(
        [
            build_model(
                preprocessor.n_features,
                k=config.k,
                width=config.width,
                depth=config.depth,
                dropout=config.dropout,
                seed=seed + member,
                name=f"tabm_{member}",
            )
            for member in range(config.members)
        ]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )

    class AveragedValidation(keras.callbacks.Callback):
        """Early stopping on the log-loss of each network's averaged prediction on its validation
        rows (Keras's own val_loss would be the members' mean loss); reports each epoch."""

        def __init__(self):
            super().__init__()
            self.best_loss, self.best_epoch, self.best_weights = np.inf, 0, None
            self.history: list[dict] = []

        def on_epoch_end(self, epoch, logs=None):
            members = member_probabilities(self.model, x_held)  # (n held, all members, classes)
            losses, f1s = [], []
            for m in range(config.members):
                val = held_rows[:, m]
                probabilities = members[val, m * config.k : (m + 1) * config.k].mean(axis=1)
                losses.append(calibration.log_loss(probabilities, y_held[val]))
                f1s.append(calibration.macro_f1(y_held[val], probabilities.argmax(axis=1)))
            val_loss, val_f1 = float(np.mean(losses)), float(np.mean(f1s))
            entry = {
                "epoch": epoch + 1,
                "epochs": max_epochs,
                "loss": float((logs or {}).get("loss", np.nan)),
                "val_loss": round(val_loss, 5),
                "val_macro_f1": round(val_f1, 5),
            }
            self.history.append(entry)
            if val_loss < self.best_loss - 1e-5:
                self.best_loss, self.best_epoch = val_loss, epoch + 1
                self.best_weights = self.model.get_weights()
            elif epoch + 1 - self.best_epoch >= config.patience:
                self.model.stop_training = True
            if report is not None:
                report(entry)

    monitor = AveragedValidation()
    model.fit(
        x,
        np.repeat(y[:, None], all_members, axis=1),
        sample_weight=sample_weight,
        batch_size=config.batch_size,
        epochs=max_epochs,
        shuffle=True,
        verbose=0,
        callbacks=[monitor],
    )
    if monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
    return TrainedModel(
        preprocessor=preprocessor,
        network=model,
        best_epoch=monitor.best_epoch,
        epochs_run=len(monitor.history),
        history=monitor.history,
    )


def assessable(frame) -> np.ndarray:
    """Rows the model answers for: TSH measured (a panel without TSH is not assessed)."""
    return frame["TSH"].notna().to_numpy()


@dataclass
class OutOfFold:
    """Pooled out-of-fold raw probabilities of the training rows, as given and with labs masked."""

    y: np.ndarray
    raw: np.ndarray
    raw_masked: np.ndarray
    assessable: np.ndarray
    assessable_masked: np.ndarray


def out_of_fold(
    rows,
    *,
    seed: int = 0,
    config: TrainingConfig | None = None,
    epochs: int | None = None,
    report: Callable[[int, dict], None] | None = None,
) -> OutOfFold:
    """Stratified ``config.oof_folds``-fold predictions: each fold's rows (and their masked copy)
    predicted by the same recipe (fit_ensemble) trained on the other folds. ``report(fold, epoch
    report)``."""
    from sklearn.model_selection import StratifiedKFold

    config = config or TrainingConfig()
    y = class_indices(rows["label"])
    raw, raw_masked = np.zeros((len(rows), len(CLASSES))), np.zeros((len(rows), len(CLASSES)))
    masked_rows = masked_copy(rows, seed=seed + 104729)
    n_splits = max(2, min(config.oof_folds, int(np.bincount(y).min())))
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for fold, (fit_index, held_index) in enumerate(folds):
        trained = fit_ensemble(
            rows.iloc[fit_index].reset_index(drop=True),
            seed=seed + 1000 * (fold + 1),
            config=config,
            epochs=epochs,
            report=(lambda entry, fold=fold: report(fold, entry)) if report else None,
        )
        raw[held_index] = trained.raw_probabilities(rows.iloc[held_index])
        raw_masked[held_index] = trained.raw_probabilities(masked_rows.iloc[held_index])
    return OutOfFold(y, raw, raw_masked, assessable(rows), assessable(masked_rows))


def calibrate_on_oof(trained: TrainedModel, oof: OutOfFold, config: TrainingConfig) -> dict:
    """Set the temperature (log-loss of all out-of-fold rows, given and masked), the decision weights
    and the low-confidence threshold (on the assessable given panels: the smallest threshold whose
    answered rows reach config.target_accuracy, referring at most config.max_referral of them).
    Returns the out-of-fold figures behind them."""
    y_all = np.concatenate([oof.y, oof.y])
    raw_all = np.concatenate([oof.raw, oof.raw_masked])
    trained.temperature = calibration.fit_temperature(raw_all, y_all)
    calibrated = calibration.apply_temperature(oof.raw, trained.temperature)
    calibrated_masked = calibration.apply_temperature(oof.raw_masked, trained.temperature)
    given = oof.assessable
    trained.decision_weights = (
        calibration.fit_decision_weights(calibrated[given], oof.y[given])
        if config.tune_decision_weights
        else [float(w) for w in config.decision_weights]
    )
    trained.uncertain_threshold = calibration.choose_uncertain_threshold(
        calibrated[given],
        oof.y[given],
        trained.decision_weights,
        target_accuracy=config.target_accuracy,
        max_flagged=config.max_referral,
    )
    return {
        "given_panels": _oof_figures(calibrated[given], oof.y[given], trained),
        "masked_panels": _oof_figures(calibrated_masked[oof.assessable_masked], oof.y[oof.assessable_masked], trained),
        "folds": config.oof_folds,
        "rule": (
            f"temperature: minimum log-loss on the out-of-fold rows and their masked copy; threshold: the "
            f"smallest top probability (0.40-0.95, steps of 0.01) whose answered out-of-fold given panels "
            f"reach accuracy {config.target_accuracy}, referring at most {config.max_referral:.0%} of them"
        ),
    }


def _oof_figures(probabilities: np.ndarray, y: np.ndarray, trained: TrainedModel) -> dict:
    predicted = calibration.decide(probabilities, trained.decision_weights)
    referred = probabilities.max(axis=1) < trained.uncertain_threshold
    answered = ~referred
    return {
        "n": int(len(y)),
        "macro_f1": round(calibration.macro_f1(y, predicted), 4),
        "accuracy": round(float(np.mean(predicted == y)), 4) if len(y) else None,
        "referral_rate": round(float(referred.mean()), 4) if len(y) else None,
        "accuracy_not_referred": round(float(np.mean(predicted[answered] == y[answered])), 4)
        if answered.any()
        else None,
    }


def describe_architecture(config: TrainingConfig, seed: int) -> str:
    """The model as the model card and metadata.json describe it."""
    return (
        f"average of {config.members} TabM networks (initialised with seeds {seed}-{seed + config.members - 1}, "
        f"trained side by side), each an ensemble of {config.k} MLP members (BatchEnsemble adapters), "
        f"{config.depth} blocks of {config.width} units, each Linear -> BatchNorm -> ReLU -> Dropout "
        f"{config.dropout}; each network leaves out its own validation rows ({config.val_size:.0%}), "
        "early stopping on their mean log-loss; inputs: tree-cut piecewise-linear encoding"
        + (" + a step bit at each edge where the bins' leading class changes" if config.step_bits else "")
        + " + robust log value + missing indicator per numeric feature (FTI derived from TT4 / T4U when "
        "missing), 0/1 flags, one-hot sex (referral source not an input)"
        + ("; trained on the rows plus a copy with lab values masked" if config.mask_labs else "")
    )


def training_split_description(split: str, config: TrainingConfig) -> str:
    """The test split's description (split_for_training's), then what the other rows are used for."""
    return (
        f"{split.split(';')[0]}; every other row is a training row (each network holds out its own "
        f"{config.val_size:.0%} for early stopping)"
    )


def _counts(frame) -> dict[str, int]:
    return {label: int((frame["label"] == label).sum()) for label in CLASSES}


def save_model(trained: TrainedModel, out_dir: Path, metadata: dict) -> None:
    """Write the model directory: Keras file, numpy weights, preprocessing and metadata."""
    from mlcore.model import MODEL_FILE, WEIGHTS_FILE, export_weights

    out_dir.mkdir(parents=True, exist_ok=True)
    trained.network.save(out_dir / MODEL_FILE)
    export_weights(trained.network, out_dir / WEIGHTS_FILE)
    trained.preprocessor.save(out_dir / "preprocessing.json")
    digest = hashlib.sha256((out_dir / WEIGHTS_FILE).read_bytes()).hexdigest()[:10]
    metadata["version"] = f"tabm-{metadata['trained_at'][:10]}-{digest}"
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=1))


def train_model(
    records_or_frame,
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    epochs: int | None = None,
    config: TrainingConfig | None = None,
) -> Path:
    """Train on the three-class rows, evaluate on a held-out test split, and save the model directory.

    Rows that all carry a held-out key (UCI "record_id" or "holdout_key") are tested on exactly the
    fixed hash held-out split (mlcore.holdout), so no model trained here has seen those rows;
    other inputs get a stratified random split (see split_for_training). Every other row is a
    training row: the final networks (fit_ensemble) split them into training and validation
    rows of their own, and the out-of-fold predictions that calibrate them (out_of_fold) fold them.

    ``progress`` receives one dict per epoch of every model trained: {"stage", "epoch", "epochs"
    (the maximum; early stopping may end sooner), "loss", "val_loss", "val_macro_f1", "step",
    "steps"}. Stage "fit" is the final model, then stage "cv" (with "fold") the out-of-fold
    models; "step" of "steps" counts the models trained.
    """
    import pandas as pd

    from mlcore.evaluate import evaluate_model, save_plots
    from mlcore.model_card import write_model_card
    from mlcore.predictor import Predictor
    from mlcore.scope import fit_scope

    started = time.perf_counter()
    config = config or TrainingConfig()
    out_dir = Path(out_dir)
    frame = labelled_frame(records_or_frame)
    if len(frame) < 30 or frame["label"].nunique() < 2:
        raise ValueError(f"need at least 30 labelled rows of two classes or more to train, got {len(frame)}")
    train, val, test, split = split_for_training(frame, seed=seed, config=config)
    rows = pd.concat([train, val], ignore_index=True)
    split = training_split_description(split, config)
    steps = 1 + config.oof_folds

    def final_report(entry: dict) -> None:
        if progress is not None:
            progress({"stage": "fit", **entry, "step": 1, "steps": steps})

    def oof_report(fold: int, entry: dict) -> None:
        if progress is not None:
            progress({"stage": "cv", "fold": fold, **entry, "step": fold + 2, "steps": steps})

    trained = fit_ensemble(rows, seed=seed, config=config, epochs=epochs, report=final_report)
    oof = out_of_fold(rows, seed=seed, config=config, epochs=epochs, report=oof_report)
    oof_figures = calibrate_on_oof(trained, oof, config)
    training_seconds = time.perf_counter() - started

    metadata = {
        "classes": list(CLASSES),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "config": asdict(config),
        "architecture": describe_architecture(config, seed),
        "step_edges": {
            name: [round(edge, 4) for edge in edges]
            for name, edges in trained.preprocessor.steps.items()
            if edges and name in LAB_TESTS
        },
        "n_features": trained.preprocessor.n_features,
        "temperature": trained.temperature,
        "decision_weights": dict(zip(CLASSES, trained.decision_weights, strict=True)),
        "uncertain_threshold": trained.uncertain_threshold,
        "out_of_fold": oof_figures,
        "masking": [{"labs": list(labs), "share": share} for labs, share in MASKING_RECIPE] if config.mask_labs else [],
        "scope": fit_scope(rows),
        "explanation_baseline": explanation_baseline(rows),
        "split": split,
        "training_rows": {"train": _counts(rows), "test": _counts(test)},
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.epochs_run,
        "training_seconds": round(training_seconds, 1),
        "history": trained.history,
    }
    save_model(trained, out_dir, metadata)

    predictor = Predictor.load(out_dir)
    metrics = evaluate_model(predictor, test)
    metrics["split"] = split
    metrics["subgroups"] = subgroup_metrics(predictor, test)
    metrics["partial_panels"] = {
        name: evaluate_model(predictor, test, labs=labs, summary=True) for name, labs in PARTIAL_PANELS.items()
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    save_plots(metrics, out_dir / "plots")
    metadata["metrics"] = {key: metrics[key] for key in SUMMARY_METRICS}
    metadata["training_seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=1))
    write_model_card(out_dir / "model_card.md", metadata)
    return out_dir
