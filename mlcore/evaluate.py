"""Evaluation on three-class rows: metrics as JSON-ready dicts (curves as point lists) and PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcore import calibration
from mlcore.schema import CLASSES, LAB_TESTS

MAX_CURVE_POINTS = 120


def _thin(xs: np.ndarray, ys: np.ndarray, x_name: str, y_name: str) -> list[dict]:
    """A curve as at most MAX_CURVE_POINTS points (endpoints kept), rounded for charts."""
    if len(xs) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(xs) - 1, MAX_CURVE_POINTS).round().astype(int))
        xs, ys = xs[keep], ys[keep]
    return [{x_name: round(float(x), 4), y_name: round(float(y), 4)} for x, y in zip(xs, ys, strict=True)]


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins (Guo et al. 2017)."""
    if len(y) == 0:
        return float("nan")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def reliability_curve(probabilities: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    points = []
    for b in range(bins):
        members = which == b
        if members.any():
            points.append(
                {
                    "confidence": round(float(confidence[members].mean()), 4),
                    "accuracy": round(float(correct[members].mean()), 4),
                    "count": int(members.sum()),
                }
            )
    return points


def classification_metrics(y: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1, macro-F1, ROC AUC, confusion matrix and curves."""
    from sklearn.metrics import (
        average_precision_score,
        confusion_matrix,
        precision_recall_curve,
        precision_recall_fscore_support,
        roc_auc_score,
        roc_curve,
    )

    labels = list(range(len(CLASSES)))
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    metrics: dict = {
        "n": int(len(y)),
        "accuracy": float(np.mean(predicted == y)) if len(y) else float("nan"),
        "macro_f1": float(np.mean(f1)),
        "precision": dict(zip(CLASSES, map(float, precision), strict=True)),
        "recall": dict(zip(CLASSES, map(float, recall), strict=True)),
        "f1": dict(zip(CLASSES, map(float, f1), strict=True)),
        "support": dict(zip(CLASSES, map(int, support), strict=True)),
        "confusion_matrix": {
            "labels": list(CLASSES),
            "matrix": confusion_matrix(y, predicted, labels=labels).tolist(),
            "note": "rows: true class, columns: predicted class",
        },
        "roc_auc": {},
        "average_precision": {},
        "roc_curves": {},
        "pr_curves": {},
    }
    for c, name in enumerate(CLASSES):
        positive = y == c
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, probabilities[:, c])
        metrics["roc_curves"][name] = _thin(fpr, tpr, "fpr", "tpr")
        metrics["roc_auc"][name] = float(roc_auc_score(positive, probabilities[:, c]))
        prec, rec, _ = precision_recall_curve(positive, probabilities[:, c])
        metrics["pr_curves"][name] = _thin(rec[::-1], prec[::-1], "recall", "precision")
        metrics["average_precision"][name] = float(average_precision_score(positive, probabilities[:, c]))
    present = np.unique(y)
    metrics["roc_auc_ovr"] = (
        float(roc_auc_score(y, probabilities, multi_class="ovr", labels=labels))
        if len(present) == len(CLASSES)
        else float("nan")
    )
    metrics["ece"] = expected_calibration_error(probabilities, y)
    metrics["reliability_curve"] = reliability_curve(probabilities, y)
    return metrics


# The partial panels reported beside complete ones (labs kept; every other lab is not measured).
# "no FTI" is the panel of an external population with TSH, total T3 and total T4 only: without
# T4 uptake, FTI cannot be derived either.
PARTIAL_PANELS: dict[str, tuple[str, ...]] = {
    "TSH + TT4": ("TSH", "TT4"),
    "TSH + TT4 + T3": ("TSH", "TT4", "T3"),
    "no FTI (no T4U)": ("TSH", "T3", "TT4", "TBG"),
}
AGE_BANDS = ((None, 18, "<18"), (18, 40, "18-39"), (40, 65, "40-64"), (65, None, "65+"))
SUMMARY_KEYS = (
    "n",
    "accuracy",
    "macro_f1",
    "recall",
    "support",
    "n_not_assessed",
    "n_refer",
    "referral_rate",
    "accuracy_not_referred",
)


def _undefined(value) -> bool:
    return isinstance(value, float) and not np.isfinite(value)


def panel_outcomes(frame, probabilities: np.ndarray, uncertain_threshold: float) -> np.ndarray:
    """Each row's outcome: "not_assessed" (no TSH: the model does not read a panel without it, nor
    one with no lab value at all), "refer" (top probability below the low-confidence threshold)
    or "assessed".

    The model's own referral: the rule a benchmark can apply to any model's probabilities. The
    application refers on every rule of mlcore/rules.py too (rule_referrals counts those).
    """
    outcome = np.where(probabilities.max(axis=1) < uncertain_threshold, "refer", "assessed").astype(object)
    outcome[frame["TSH"].isna().to_numpy()] = "not_assessed"
    return outcome


def rule_referrals(predictor, frame) -> dict:
    """What the application would answer for these rows (Predictor.predict: every referral rule
    of mlcore/rules.py and the guideline reading): {"n_refer_any_rule", "accuracy_not_referred_any_rule",
    "reasons": {code: rows referred for it}} over the assessed rows."""
    from collections import Counter

    from mlcore.data import class_indices

    results = predictor.predict(frame, explain=False)  # the rules read a NaN as not measured
    truth = class_indices(frame["label"])
    assessed = [(r, t) for r, t in zip(results, truth, strict=True) if r.outcome != "not_assessed"]
    answered = [CLASSES.index(r.predicted_class) == t for r, t in assessed if r.outcome == "assessed"]
    reasons = Counter(reason["code"] for r, _ in assessed if r.outcome == "refer" for reason in r.reasons)
    return {
        "n_refer_any_rule": sum(r.outcome == "refer" for r, _ in assessed),
        "accuracy_not_referred_any_rule": float(np.mean(answered)) if answered else None,
        "reasons": dict(reasons.most_common()),
    }


def evaluate_model(predictor, records_or_frame, *, labs=None, summary: bool = False) -> dict:
    """Metrics of a Predictor on the three-class rows of records or a DataFrame (other rows are counted).

    ``labs``: keep only these lab tests (every other lab treated as not measured). ``n`` and the
    metrics cover the rows assessed or referred; rows not assessed are counted in
    ``n_not_assessed``; ``accuracy_not_referred`` is the accuracy on the rows answered without
    referral. ``summary``: only SUMMARY_KEYS (no curves).
    """
    from mlcore.data import class_indices, labelled_frame, records_to_frame
    from mlcore.masking import keep_labs

    frame = records_or_frame if hasattr(records_or_frame, "columns") else records_to_frame(records_or_frame)
    labelled = labelled_frame(frame)
    if labs is not None:
        unknown = sorted(set(labs) - set(LAB_TESTS))
        if unknown:
            raise ValueError(f"unknown lab test(s) {', '.join(unknown)}: expected some of {', '.join(LAB_TESTS)}")
        labelled = keep_labs(labelled, labs, all_labs=LAB_TESTS)
    raw = predictor.raw_probabilities(labelled)
    probabilities = calibration.apply_temperature(raw, predictor.temperature)
    outcome = panel_outcomes(labelled, probabilities, predictor.uncertain_threshold)
    scored = outcome != "not_assessed"
    y = class_indices(labelled["label"])[scored]
    raw, probabilities = raw[scored], probabilities[scored]
    predicted = predictor.decide(probabilities)
    metrics = classification_metrics(y, probabilities, predicted)
    referred = outcome[scored] == "refer"
    metrics["n_not_assessed"] = int((~scored).sum())
    metrics["n_refer"] = int(referred.sum())
    metrics["referral_rate"] = float(referred.mean()) if len(y) else float("nan")
    metrics["accuracy_not_referred"] = (
        float(np.mean(predicted[~referred] == y[~referred])) if (~referred).any() else float("nan")
    )
    if labs is not None:
        metrics["labs"] = list(labs)
    if summary:  # JSON-safe (stored in a database): None where a figure is undefined (no rows)
        return {key: None if _undefined(metrics[key]) else metrics[key] for key in SUMMARY_KEYS}
    metrics["all_rules"] = rule_referrals(predictor, labelled)
    metrics["n_excluded_other"] = int(len(frame) - len(labelled))
    metrics["ece_uncalibrated"] = expected_calibration_error(raw, y)
    metrics["temperature"] = predictor.temperature
    metrics["uncertain_threshold"] = predictor.uncertain_threshold
    metrics["uncertain_rate"] = metrics["referral_rate"]
    metrics["model_version"] = predictor.version
    return metrics


def subgroup_metrics(predictor, frame) -> dict:
    """Summary metrics by sex and by age band (<18, 18-39, 40-64, 65+) of three-class rows."""
    groups = {}
    for sex in ("F", "M"):
        groups[f"sex {sex}"] = frame["sex"] == sex
    groups["sex unknown"] = ~frame["sex"].isin(["F", "M"])
    for low, high, name in AGE_BANDS:
        inside = frame["age"].notna()
        if low is not None:
            inside &= frame["age"] >= low
        if high is not None:
            inside &= frame["age"] < high
        groups[f"age {name}"] = inside
    return {name: evaluate_model(predictor, frame[rows], summary=True) for name, rows in groups.items() if rows.any()}


def save_plots(metrics: dict, out_dir: str | Path) -> list[Path]:
    """ROC, precision-recall, reliability and confusion-matrix plots as small PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def finish(fig, name):
        path = out_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=72)
        plt.close(fig)
        written.append(path)

    for key, x_name, y_name, title, file in (
        ("roc_curves", "fpr", "tpr", "ROC curves (one vs rest)", "roc.png"),
        ("pr_curves", "recall", "precision", "Precision-recall curves", "pr.png"),
    ):
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for name, points in metrics[key].items():
            ax.plot([p[x_name] for p in points], [p[y_name] for p in points], label=name)
        ax.set(xlabel=x_name, ylabel=y_name, title=title, xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower right" if key == "roc_curves" else "lower left")
        finish(fig, file)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    points = metrics["reliability_curve"]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect")
    ax.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o", label="model")
    ax.set(xlabel="confidence", ylabel="accuracy", title=f"Reliability (ECE {metrics['ece']:.3f})")
    ax.legend(loc="upper left")
    finish(fig, "reliability.png")

    fig, ax = plt.subplots(figsize=(4.5, 4))
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    ax.imshow(matrix, cmap="Blues")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center")
    ax.set(xticks=range(len(CLASSES)), yticks=range(len(CLASSES)), xlabel="predicted", ylabel="true")
    ax.set_xticklabels(CLASSES, rotation=20)
    ax.set_yticklabels(CLASSES)
    ax.set_title("Confusion matrix")
    finish(fig, "confusion_matrix.png")
    return written
