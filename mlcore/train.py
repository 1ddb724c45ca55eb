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
from mlcore.data import records_to_frame, split_frame
from mlcore.holdout import SPLIT_DESCRIPTION, holdout_key, is_held_out
from mlcore.preprocessing import Preprocessor
from mlcore.schema import CLASSES, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES, label_from_diagnosis

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
)


@dataclass
class TrainingConfig:
    """Hyper-parameters; the defaults are those of the shipped model (see MODELING.md)."""

    k: int = 8
    width: int = 64
    depth: int = 2
    dropout: float = 0.1
    learning_rate: float = 2e-3
    weight_decay: float = 3e-4
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 20
    class_weight_power: float = 0.5
    max_leaves: int = 16
    min_leaf: int = 24
    val_size: float = 0.15
    test_size: float = 0.15
    # Retrain on train + validation rows for the early-stopped number of epochs (more data for the
    # final weights; temperature and decision weights stay those fitted on validation).
    refit: bool = True
    # Decision rule: argmax of calibrated probabilities times these per-class weights. A fixed
    # cost ratio (a missed hyperthyroid case counts 1.5 false alarms) proved steadier across folds
    # than weights tuned on the ~20 hyperthyroid cases of a validation split (tune_decision_weights).
    decision_weights: tuple[float, float, float] = (1.0, 1.5, 1.0)
    tune_decision_weights: bool = False


def labelled_frame(records_or_frame):
    """A DataFrame of the three-class rows only (label in CLASSES)."""
    frame = records_or_frame if hasattr(records_or_frame, "columns") else records_to_frame(records_or_frame)
    if "label" not in frame.columns:
        if "diagnosis" not in frame.columns:
            raise ValueError("training rows need a 'label' column (or a 'diagnosis' to derive it from)")
        frame = frame.assign(
            label=[label_from_diagnosis(d) if isinstance(d, str) else None for d in frame["diagnosis"]]
        )
    return frame[frame["label"].isin(CLASSES)].reset_index(drop=True)


def class_indices(labels) -> np.ndarray:
    return np.array([CLASSES.index(label) for label in labels], dtype=np.int64)


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
    """A fitted preprocessor and Keras network with their validation-fitted calibration."""

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


def fit_model(
    train,
    val,
    *,
    seed: int = 0,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
    epochs: int | None = None,
) -> TrainedModel:
    """Fit preprocessing and network on ``train``; early-stop, calibrate and tune decisions on ``val``."""
    _configure_tensorflow()
    import keras

    from mlcore.model import build_model, mean_probabilities

    config = config or TrainingConfig()
    max_epochs = epochs or config.max_epochs
    keras.utils.set_random_seed(seed)

    y_train, y_val = class_indices(train["label"]), class_indices(val["label"])
    min_leaf = max(5, min(config.min_leaf, len(train) // 60))
    preprocessor = Preprocessor(max_leaves=config.max_leaves, min_leaf=min_leaf).fit(train, train["label"], seed=seed)
    x_train, x_val = preprocessor.transform(train), preprocessor.transform(val)

    counts = np.bincount(y_train, minlength=len(CLASSES)).astype(float)
    class_weight = (counts.sum() / (len(CLASSES) * np.maximum(counts, 1))) ** config.class_weight_power
    sample_weight = np.repeat(class_weight[y_train][:, None], config.k, axis=1).astype("float32")
    targets = np.repeat(y_train[:, None], config.k, axis=1)

    def new_model():
        keras.utils.set_random_seed(seed)
        model = build_model(
            preprocessor.n_features,
            k=config.k,
            width=config.width,
            depth=config.depth,
            dropout=config.dropout,
            seed=seed,
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(
                learning_rate=config.learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(),
        )
        return model

    model = new_model()

    class AveragedValidation(keras.callbacks.Callback):
        """Early stopping on the log-loss of the members' averaged prediction; reports progress."""

        def __init__(self):
            super().__init__()
            self.best_loss, self.best_epoch, self.best_weights = np.inf, 0, None
            self.history: list[dict] = []

        def on_epoch_end(self, epoch, logs=None):
            probabilities = mean_probabilities(self.model, x_val)
            val_loss = calibration.log_loss(probabilities, y_val) if len(y_val) else 0.0
            val_f1 = calibration.macro_f1(y_val, probabilities.argmax(axis=1)) if len(y_val) else 0.0
            report = {
                "stage": "fit",
                "epoch": epoch + 1,
                "epochs": max_epochs,
                "loss": float((logs or {}).get("loss", np.nan)),
                "val_loss": round(val_loss, 5),
                "val_macro_f1": round(val_f1, 5),
            }
            self.history.append(report)
            if val_loss < self.best_loss - 1e-5:
                self.best_loss, self.best_epoch = val_loss, epoch + 1
                self.best_weights = self.model.get_weights()
            elif epoch + 1 - self.best_epoch >= config.patience:
                self.model.stop_training = True
            if progress is not None:
                progress(report)

    monitor = AveragedValidation()
    model.fit(
        x_train,
        targets,
        sample_weight=sample_weight,
        batch_size=config.batch_size,
        epochs=max_epochs,
        shuffle=True,
        verbose=0,
        callbacks=[monitor],
    )
    if monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)

    trained = TrainedModel(
        preprocessor=preprocessor,
        network=model,
        best_epoch=monitor.best_epoch,
        epochs_run=len(monitor.history),
        history=monitor.history,
    )
    raw_val = trained.raw_probabilities(val)
    trained.temperature = calibration.fit_temperature(raw_val, y_val)
    calibrated_val = calibration.apply_temperature(raw_val, trained.temperature)
    trained.decision_weights = (
        calibration.fit_decision_weights(calibrated_val, y_val)
        if config.tune_decision_weights
        else [float(w) for w in config.decision_weights]
    )
    trained.uncertain_threshold = calibration.choose_uncertain_threshold(
        calibrated_val, y_val, trained.decision_weights
    )
    if config.refit and trained.best_epoch:
        y_all = np.concatenate([y_train, y_val])
        weights_all = np.repeat(class_weight[y_all][:, None], config.k, axis=1).astype("float32")
        final = new_model()
        refit_callbacks = []
        if progress is not None:
            best = monitor.history[trained.best_epoch - 1]

            class RefitProgress(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    progress(
                        {
                            "stage": "refit",
                            "epoch": epoch + 1,
                            "epochs": trained.best_epoch,
                            "loss": float((logs or {}).get("loss", np.nan)),
                            # the early-stopped model's validation scores, which chose these epochs
                            "val_loss": best["val_loss"],
                            "val_macro_f1": best["val_macro_f1"],
                        }
                    )

            refit_callbacks.append(RefitProgress())
        final.fit(
            np.concatenate([x_train, x_val]),
            np.repeat(y_all[:, None], config.k, axis=1),
            sample_weight=weights_all,
            batch_size=config.batch_size,
            epochs=trained.best_epoch,
            shuffle=True,
            verbose=0,
            callbacks=refit_callbacks,
        )
        trained.network = final
    return trained


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
    other inputs get a stratified random split (see split_for_training).

    ``progress`` receives one dict per epoch: {"stage": "fit", "epoch", "epochs" (the maximum;
    early stopping may end sooner), "loss", "val_loss", "val_macro_f1"}, then, while the final
    weights are retrained on train + validation rows, {"stage": "refit", "epoch", "epochs",
    "loss", "val_loss", "val_macro_f1"} (validation figures of the early-stopped model).
    """
    from mlcore.evaluate import evaluate_model, save_plots
    from mlcore.model_card import write_model_card
    from mlcore.predictor import Predictor

    started = time.perf_counter()
    config = config or TrainingConfig()
    out_dir = Path(out_dir)
    frame = labelled_frame(records_or_frame)
    if len(frame) < 30 or frame["label"].nunique() < 2:
        raise ValueError(f"need at least 30 labelled rows of two classes or more to train, got {len(frame)}")
    train, val, test, split = split_for_training(frame, seed=seed, config=config)
    trained = fit_model(train, val, seed=seed, config=config, progress=progress, epochs=epochs)
    training_seconds = time.perf_counter() - started

    metadata = {
        "classes": list(CLASSES),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "config": asdict(config),
        "architecture": (
            f"TabM ensemble of {config.k} MLP members (BatchEnsemble adapters), {config.depth} blocks of "
            f"{config.width} units, each Linear -> BatchNorm -> ReLU -> Dropout {config.dropout}; "
            "inputs: tree-cut piecewise-linear encoding + robust log value + missing indicator per "
            "numeric feature, 0/1 flags, one-hot sex and referral source"
            + (
                "; after early stopping on the validation split, retrained on train + validation rows "
                "for the best number of epochs"
                if config.refit
                else ""
            )
        ),
        "n_features": trained.preprocessor.n_features,
        "temperature": trained.temperature,
        "decision_weights": dict(zip(CLASSES, trained.decision_weights, strict=True)),
        "uncertain_threshold": trained.uncertain_threshold,
        "explanation_baseline": explanation_baseline(train),
        "split": split,
        "training_rows": {"train": _counts(train), "validation": _counts(val), "test": _counts(test)},
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.epochs_run,
        "training_seconds": round(training_seconds, 1),
        "history": trained.history,
    }
    save_model(trained, out_dir, metadata)

    predictor = Predictor.load(out_dir)
    metrics = evaluate_model(predictor, test)
    metrics["split"] = split
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    save_plots(metrics, out_dir / "plots")
    metadata["metrics"] = {key: metrics[key] for key in SUMMARY_METRICS}
    metadata["training_seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=1))
    write_model_card(out_dir / "model_card.md", metadata)
    return out_dir
