"""Model quality: our Keras TabM ensemble vs XGBoost and LightGBM on complete and partial panels.

Usage: THYROWEB_DATA_DIR=../shared/data python bench/model_quality.py [--seeds 3] [--folds 5]
       [--quick] [--models ours,xgboost,lightgbm,xgboost-unmasked] [--save-raw DIR] [--speed]

The three-class rows of thyroid0387-dev are split into the same stratified 5
folds (seed 0) for every model and every seed; the seeds change only the
models' own randomness. Every model is trained on the fold's training rows plus
a copy with lab values masked (mlcore.masking, the shipped recipe) and sees the
same inputs (FTI derived from TT4 / T4U when missing, no referral source).

Each test fold is scored on four panels: complete (the rows as recorded),
TSH + TT4, TSH + TT4 + T3, and no FTI (T4U and FTI removed, so FTI cannot be
derived: the panel of an external population with TSH, total T3 and total T4).
Rows without TSH are not assessed and left out of every figure. The complete
panels' figures are printed again for the rows with all five usual labs (TSH,
T3, TT4, T4U, FTI) measured, where no model can lean on a missing value.

One decision rule for all models: temperature and the low-confidence threshold
are cross-fitted on the out-of-fold predictions of the *other* folds (pooled,
all four panels for the temperature, complete panels for the threshold, the
rule of mlcore.train.calibrate_on_oof), then the class is the argmax of the
calibrated probabilities times the shipped decision weights. Printed per panel:
macro-F1 and hyperthyroid recall on all assessed rows (referred ones included,
with their class), the referral rate and the accuracy on the rows answered
without referral; mean ± std over the seeds (each seed: the folds pooled).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore import calibration  # noqa: E402
from mlcore.data import class_indices, labelled_frame, read_uci  # noqa: E402
from mlcore.evaluate import PARTIAL_PANELS  # noqa: E402
from mlcore.masking import keep_labs, with_masked_copy  # noqa: E402
from mlcore.preprocessing import numeric_matrix  # noqa: E402
from mlcore.schema import CLASSES, HISTORY_FLAGS, LAB_TESTS  # noqa: E402
from mlcore.train import TrainingConfig  # noqa: E402

MODELS = ("ours", "xgboost", "lightgbm", "xgboost-unmasked")
SCENARIOS = {"complete": None, **PARTIAL_PANELS}
# Rows reported apart, scored as recorded (the "complete" predictions): the panels with every lab the
# Garvan laboratory usually ran, where no model can lean on a missing value.
FIVE_LABS = ("TSH", "T3", "TT4", "T4U", "FTI")
FIVE_LABS_MEASURED = "complete, five labs measured"
PANELS = (*SCENARIOS, FIVE_LABS_MEASURED)
HYPER = CLASSES.index("hyperthyroid")


def tree_features(frame) -> np.ndarray:
    """Inputs for gradient boosting: the numeric values with NaN (FTI derived), flags and coded sex."""
    flags = frame[list(HISTORY_FLAGS)].to_numpy(dtype=float)
    sex = frame["sex"].map({"F": 0.0, "M": 1.0}).to_numpy(dtype=float, na_value=np.nan)
    return np.column_stack([numeric_matrix(frame), flags, sex])


def train_ours(train, seed, config: TrainingConfig | None = None):
    from mlcore.train import fit_ensemble

    trained = fit_ensemble(train, seed=seed, config=config or TrainingConfig())
    return trained.raw_probabilities


def train_xgboost(train, seed, *, mask: bool = True):
    from xgboost import XGBClassifier

    rows = with_masked_copy(train, seed=seed) if mask else train
    model = XGBClassifier(n_estimators=400, max_depth=6, random_state=seed, n_jobs=1, tree_method="hist")
    model.fit(tree_features(rows), class_indices(rows["label"]))
    return lambda frame: model.predict_proba(tree_features(frame))


def train_lightgbm(train, seed):
    from lightgbm import LGBMClassifier

    rows = with_masked_copy(train, seed=seed)
    model = LGBMClassifier(n_estimators=400, random_state=seed, n_jobs=1, verbose=-1)
    model.fit(tree_features(rows), class_indices(rows["label"]))
    return lambda frame: model.predict_proba(tree_features(frame))


def train_xgboost_unmasked(train, seed):
    """A reference, not a contender: XGBoost on the rows as recorded, free to learn the lab's
    test-ordering habits (a missing FTI almost never goes with hyperthyroidism here), so its
    complete-panel figure is what that shortcut is worth on these folds."""
    return train_xgboost(train, seed, mask=False)


TRAINERS = {
    "ours": train_ours,
    "xgboost": train_xgboost,
    "lightgbm": train_lightgbm,
    "xgboost-unmasked": train_xgboost_unmasked,
}


def scenario_rows(test, scenario: str):
    labs = SCENARIOS[scenario]
    return test if labs is None else keep_labs(test, labs, all_labs=LAB_TESTS)


def judge(raw: dict[str, np.ndarray], y: np.ndarray, fold_of: np.ndarray, assessed: dict[str, np.ndarray]) -> dict:
    """Per scenario: macro-F1, hyperthyroid recall, referral rate and accuracy on answered rows, with
    temperature and threshold fitted on the other folds' predictions."""
    config = TrainingConfig()
    decided = {name: np.zeros(len(y), dtype=int) for name in SCENARIOS}
    referred = {name: np.zeros(len(y), dtype=bool) for name in SCENARIOS}
    evaluated = fold_of >= 0
    for fold in np.unique(fold_of[evaluated]):
        others = evaluated & (fold_of != fold)
        if not others.any():  # a single fold (a quick run): fit on it, an optimistic shortcut
            others = evaluated
        temperature = calibration.fit_temperature(
            np.concatenate([raw[name][others] for name in SCENARIOS]), np.concatenate([y[others]] * len(SCENARIOS))
        )
        complete = others & assessed["complete"]
        calibrated = calibration.apply_temperature(raw["complete"][complete], temperature)
        threshold = calibration.choose_uncertain_threshold(
            calibrated,
            y[complete],
            config.decision_weights,
            target_accuracy=config.target_accuracy,
            max_flagged=config.max_referral,
        )
        here = fold_of == fold
        for name in SCENARIOS:
            probabilities = calibration.apply_temperature(raw[name][here], temperature)
            decided[name][here] = calibration.decide(probabilities, config.decision_weights)
            referred[name][here] = probabilities.max(axis=1) < threshold
    figures = {}
    for name in PANELS:
        scenario = "complete" if name == FIVE_LABS_MEASURED else name
        rows = evaluated & assessed[name]
        truth, predicted, refer = y[rows], decided[scenario][rows], referred[scenario][rows]
        hyper = truth == HYPER
        figures[name] = {
            "macro_f1": calibration.macro_f1(truth, predicted),
            "recall_hyper": float(np.mean(predicted[hyper] == HYPER)) if hyper.any() else float("nan"),
            "referral_rate": float(refer.mean()),
            "accuracy_answered": float(np.mean(predicted[~refer] == truth[~refer])) if (~refer).any() else np.nan,
        }
    return figures


def run_seed(frame, y, folds, seed: int, models: list[str], save_raw: Path | None = None) -> dict:
    """{model: {scenario: figures, "seconds": training seconds per fold}} for one seed.

    ``save_raw``: a directory where each model's out-of-fold raw probabilities are written
    (``{model}-seed{seed}.npz``: one array per panel, with the labels and fold numbers)."""
    fold_of = np.full(len(y), -1)
    for f, (_, test_index) in enumerate(folds):
        fold_of[test_index] = f
    assessed = {name: scenario_rows(frame, name)["TSH"].notna().to_numpy() for name in SCENARIOS}
    assessed[FIVE_LABS_MEASURED] = frame[list(FIVE_LABS)].notna().all(axis=1).to_numpy()
    results = {}
    for model in models:
        raw = {name: np.full((len(y), len(CLASSES)), np.nan) for name in SCENARIOS}
        seconds = []
        for f, (train_index, test_index) in enumerate(folds):
            train = frame.iloc[train_index].reset_index(drop=True)
            test = frame.iloc[test_index].reset_index(drop=True)
            started = time.perf_counter()
            predict = TRAINERS[model](train, seed)
            seconds.append(time.perf_counter() - started)
            for name in SCENARIOS:
                raw[name][test_index] = predict(scenario_rows(test, name))
            print(f"seed {seed} fold {f} {model}: trained in {seconds[-1]:.0f} s", file=sys.stderr, flush=True)
        if save_raw is not None:
            save_raw.mkdir(parents=True, exist_ok=True)
            np.savez(save_raw / f"{model}-seed{seed}.npz", y=y, fold_of=fold_of, **raw)
        results[model] = judge(raw, y, fold_of, assessed)
        results[model]["seconds"] = float(np.mean(seconds))
        complete = results[model]["complete"]
        print(
            f"seed {seed} {model:9s} complete macro-F1 {complete['macro_f1']:.4f} "
            f"referral {complete['referral_rate']:.3f} | TSH + TT4 {results[model]['TSH + TT4']['macro_f1']:.4f}",
            flush=True,
        )
    return results


def _cell(values, digits: int = 4) -> str:
    values = np.asarray(values, dtype=float)
    return f"{np.nanmean(values):.{digits}f} ± {np.nanstd(values):.{digits}f}"


def print_table(per_seed: list[dict], models: list[str]) -> None:
    print()
    print("| panel | model | macro-F1 | hyper recall | referral rate | accuracy answered |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in PANELS:
        for model in models:
            figures = [seed[model][name] for seed in per_seed]
            print(
                f"| {name} | {model} | {_cell([f['macro_f1'] for f in figures])} | "
                f"{_cell([f['recall_hyper'] for f in figures], 3)} | "
                f"{_cell([f['referral_rate'] for f in figures], 3)} | "
                f"{_cell([f['accuracy_answered'] for f in figures])} |"
            )
    print()
    print("| model | training seconds per fold |")
    print("| --- | --- |")
    for model in models:
        print(f"| {model} | {np.mean([seed[model]['seconds'] for seed in per_seed]):.1f} |")


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
    novelty = best_of(lambda: predictor.novelty(row), 200)
    frame = pd.DataFrame([{**row[0], "TSH": t} for t in np.geomspace(0.01, 300, 1000)] * 100)
    bulk = best_of(lambda: predictor.predict_proba(frame), 3)
    print(f"\nPredictor {predictor.version}: load {load * 1000:.0f} ms")
    print("| call | best | median |")
    print("| --- | --- | --- |")
    print(f"| predict_proba, 1 row | {one[0] * 1000:.2f} ms | {one[1] * 1000:.2f} ms |")
    print(f"| predict with explanation, 1 row | {explained[0] * 1000:.2f} ms | {explained[1] * 1000:.2f} ms |")
    print(f"| novelty, 1 row | {novelty[0] * 1000:.2f} ms | {novelty[1] * 1000:.2f} ms |")
    print(f"| predict_proba, 100,000 rows (DataFrame) | {bulk[0]:.3f} s | {bulk[1]:.3f} s |")


def config_with(overrides: str) -> TrainingConfig:
    """The shipped TrainingConfig with "name=value,..." overrides, each parsed as its field's type."""
    config = TrainingConfig()
    for item in filter(None, overrides.split(",")):
        name, _, text = item.partition("=")
        if not hasattr(config, name):
            raise SystemExit(f"--config: TrainingConfig has no field {name!r}")
        current = getattr(config, name)
        value = text.lower() in ("1", "true", "yes") if isinstance(current, bool) else type(current)(text)
        setattr(config, name, value)
    return config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="UCI-format file (default: $THYROWEB_DATA_DIR/thyroid0387-dev.data)")
    parser.add_argument(
        "--seeds", type=int, default=3, help="model seeds 0 .. N-1 (default 3; 0 with --speed: timings only)"
    )
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run (default 5)")
    parser.add_argument("--quick", action="store_true", help="development run: 1 seed, 2 folds")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--fold-seed",
        type=int,
        default=0,
        help="seed of the 5-fold split (default 0, the reported folds; another seed for choosing settings)",
    )
    parser.add_argument(
        "--config", default="", help="TrainingConfig overrides for ours, e.g. step_bits=False,max_leaves=32"
    )
    parser.add_argument("--save-raw", type=Path, help="write each model's out-of-fold probabilities here")
    parser.add_argument("--speed", action="store_true", help="also time the shipped model's Predictor")
    args = parser.parse_args(argv)
    path = args.data or os.path.join(os.environ.get("THYROWEB_DATA_DIR", ""), "thyroid0387-dev.data")
    if not os.path.isfile(path):
        parser.error(f"no data file at {path!r}: set THYROWEB_DATA_DIR or pass --data")
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(TRAINERS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    seeds, n_folds = (1, 2) if args.quick else (args.seeds, args.folds)

    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    frame = labelled_frame(read_uci(path).records)
    y = class_indices(frame["label"])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=args.fold_seed).split(np.zeros(len(y)), y))[:n_folds]
    if args.config:
        TRAINERS["ours"] = functools.partial(train_ours, config=config_with(args.config))
    if seeds:
        print(
            f"{len(frame)} three-class rows; {len(folds)} of 5 stratified folds (seed {args.fold_seed}); "
            f"model seeds 0-{seeds - 1}; ours: {args.config or 'the shipped TrainingConfig'}; "
            f"rows without TSH not assessed; all models trained with lab masking"
        )
        per_seed = [run_seed(frame, y, folds, seed, models, args.save_raw) for seed in range(seeds)]
        print_table(per_seed, models)
        print(f"\nbenchmark time {time.perf_counter() - started:.0f} s")
    if args.speed:
        predictor_speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
