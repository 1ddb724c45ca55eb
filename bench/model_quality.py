"""Model quality: our Keras TabM vs XGBoost vs LightGBM vs a plain Keras MLP on the same 5 folds.

Usage: THYROWEB_DATA_DIR=../shared/data python bench/model_quality.py [--folds N] [--models ours,xgboost,...]

All models see the same stratified 5-fold split (seed 0) of the three-class
rows of thyroid0387-dev. Models that need a validation split (early stopping,
calibration, decision weights) carve it out of the fold's training rows.
Prints one table: macro-F1 (mean ± std over folds), recall per class, ROC AUC
(one vs rest, macro), expected calibration error and training seconds per fold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.data import read_uci  # noqa: E402
from mlcore.evaluate import classification_metrics  # noqa: E402
from mlcore.preprocessing import NUMERIC_FEATURES, numeric_matrix  # noqa: E402
from mlcore.schema import CLASSES, HISTORY_FLAGS, REFERRAL_SOURCES  # noqa: E402
from mlcore.train import class_indices, labelled_frame  # noqa: E402

MODELS = ("ours", "xgboost", "lightgbm", "plain_mlp")


def tree_features(frame) -> np.ndarray:
    """Raw inputs for gradient boosting: numeric values with NaN, flags, coded sex and referral source."""
    flags = frame[list(HISTORY_FLAGS)].to_numpy(dtype=float)
    sex = frame["sex"].map({"F": 0.0, "M": 1.0}).to_numpy(dtype=float, na_value=np.nan)
    referral = frame["referral_source"].map({s: i for i, s in enumerate(REFERRAL_SOURCES)}).to_numpy(dtype=float)
    return np.column_stack([numeric_matrix(frame), flags, sex, referral])


def plain_mlp_features(train, other):
    """log1p of lab values, median imputation, standard scaling, missing indicators, one-hot categories."""

    def raw(frame):
        numeric = numeric_matrix(frame)[:, :-1]  # age and the model's labs, without the derived T3/TT4 ratio
        numeric[:, 1:] = np.log1p(numeric[:, 1:])
        return numeric

    base = raw(train)
    median = np.nanmedian(base, axis=0)
    median = np.where(np.isnan(median), 0.0, median)

    def encode(frame):
        numeric = raw(frame)
        missing = np.isnan(numeric)
        numeric = np.where(missing, median, numeric)
        return numeric, missing

    train_numeric, _ = encode(train)
    mean, std = train_numeric.mean(axis=0), train_numeric.std(axis=0) + 1e-6

    def full(frame):
        numeric, missing = encode(frame)
        sex = np.column_stack([(frame["sex"] == s).to_numpy() for s in ("F", "M")])
        referral = np.column_stack([(frame["referral_source"] == s).to_numpy() for s in REFERRAL_SOURCES])
        flags = frame[list(HISTORY_FLAGS)].to_numpy(dtype=float)
        return np.column_stack([(numeric - mean) / std, missing, flags, sex, referral]).astype("float32")

    return full(train), full(other)


def run_ours(train, test, seed):
    from mlcore.train import fit_model

    inner_train, inner_val = _inner_split(train, seed)
    trained = fit_model(inner_train, inner_val, seed=seed)
    probabilities = trained.predict_proba(test)
    return probabilities, trained.predict_classes(test)


def _inner_split(train, seed):
    from sklearn.model_selection import train_test_split

    fit, val = train_test_split(train, test_size=0.15, random_state=seed, stratify=train["label"])
    return fit.reset_index(drop=True), val.reset_index(drop=True)


def run_xgboost(train, test, seed):
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=400, max_depth=6, random_state=seed, n_jobs=2, tree_method="exact")
    model.fit(tree_features(train), class_indices(train["label"]))
    probabilities = model.predict_proba(tree_features(test))
    return probabilities, probabilities.argmax(axis=1)


def run_lightgbm(train, test, seed):
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(n_estimators=400, random_state=seed, n_jobs=2, verbose=-1)
    model.fit(tree_features(train), class_indices(train["label"]))
    probabilities = model.predict_proba(tree_features(test))
    return probabilities, probabilities.argmax(axis=1)


def run_plain_mlp(train, test, seed):
    import keras

    keras.utils.set_random_seed(seed)
    fit, val = _inner_split(train, seed)
    x_fit, x_val = plain_mlp_features(fit, val)
    _, x_test = plain_mlp_features(fit, test)
    model = keras.Sequential(
        [
            keras.Input(shape=(x_fit.shape[1],)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(len(CLASSES), activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(
        x_fit,
        class_indices(fit["label"]),
        validation_data=(x_val, class_indices(val["label"])),
        epochs=200,
        batch_size=128,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(patience=15, restore_best_weights=True)],
    )
    probabilities = np.asarray(model(x_test, training=False))
    return probabilities, probabilities.argmax(axis=1)


RUNNERS = {"ours": run_ours, "xgboost": run_xgboost, "lightgbm": run_lightgbm, "plain_mlp": run_plain_mlp}


def table_row(name: str, rows: list[dict]) -> str:
    def mean(key, cls=None):
        return float(np.mean([r[key][cls] if cls else r[key] for r in rows]))

    f1s = [r["macro_f1"] for r in rows]
    cells = [
        name,
        f"{np.mean(f1s):.4f} ± {np.std(f1s):.4f}",
        *(f"{mean('recall', c):.3f}" for c in CLASSES),
        f"{mean('roc_auc_ovr'):.4f}",
        f"{mean('ece'):.4f}",
        f"{mean('seconds'):.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def predictor_speed() -> None:
    """Timings of the shipped model's numpy Predictor (the web process's path)."""
    import pandas as pd

    from mlcore.predictor import Predictor
    from mlcore.schema import validate_panel

    started = time.perf_counter()
    predictor = Predictor.load()
    load = time.perf_counter() - started
    row = [validate_panel({"age": 50, "sex": "F", "TSH": 7.5, "T3": 1.6, "TT4": 80, "T4U": 0.9, "FTI": 89})]
    predictor.predict_proba(row)

    def best_of(fn, repeats):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times), float(np.median(times))

    one = best_of(lambda: predictor.predict_proba(row), 200)
    explained = best_of(lambda: predictor.predict(row), 50)
    frame = pd.DataFrame([{**row[0], "TSH": t} for t in np.geomspace(0.01, 300, 1000)] * 100)
    bulk = best_of(lambda: predictor.predict_proba(frame), 5)
    print(f"\nPredictor {predictor.version}: load {load * 1000:.0f} ms")
    print("| call | best | median |")
    print("| --- | --- | --- |")
    print(f"| predict_proba, 1 row | {one[0] * 1000:.2f} ms | {one[1] * 1000:.2f} ms |")
    print(f"| predict with explanation, 1 row | {explained[0] * 1000:.2f} ms | {explained[1] * 1000:.2f} ms |")
    print(f"| predict_proba, 100,000 rows (DataFrame) | {bulk[0]:.3f} s | {bulk[1]:.3f} s |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="UCI-format file (default: $THYROWEB_DATA_DIR/thyroid0387-dev.data)")
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--speed", action="store_true", help="also time the shipped model's Predictor")
    args = parser.parse_args(argv)
    path = args.data or os.path.join(os.environ.get("THYROWEB_DATA_DIR", ""), "thyroid0387-dev.data")
    if not os.path.isfile(path):
        parser.error(f"no data file at {path!r}: set THYROWEB_DATA_DIR or pass --data")
    models = [m for m in args.models.split(",") if m]

    from sklearn.model_selection import StratifiedKFold

    frame = labelled_frame(read_uci(path).records)
    y = class_indices(frame["label"])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))[: args.folds]
    print(f"{len(frame)} three-class rows; {len(folds)} of 5 stratified folds (seed 0); features {NUMERIC_FEATURES}")
    results: dict[str, list[dict]] = {m: [] for m in models}
    for f, (train_idx, test_idx) in enumerate(folds):
        train, test = frame.iloc[train_idx].reset_index(drop=True), frame.iloc[test_idx].reset_index(drop=True)
        for name in models:
            started = time.perf_counter()
            probabilities, predicted = RUNNERS[name](train, test, 0)
            seconds = time.perf_counter() - started
            metrics = classification_metrics(class_indices(test["label"]), probabilities, np.asarray(predicted))
            metrics["seconds"] = seconds
            results[name].append(metrics)
            print(
                f"fold {f} {name:10s} macro-F1 {metrics['macro_f1']:.4f} "
                f"hyper recall {metrics['recall']['hyperthyroid']:.3f} ({seconds:.1f} s)",
                flush=True,
            )
    print()
    header = (
        "| model | macro-F1 (mean ± std) | recall normal | recall hyper | recall hypo | ROC AUC | ECE | train s/fold |"
    )
    print(header)
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in models:
        print(table_row(name, results[name]))
    if args.speed:
        predictor_speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
