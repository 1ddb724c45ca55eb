"""Evaluation on three-class rows: metrics as JSON-ready dicts (curves as point lists) and PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcore import calibration
from mlcore.schema import CLASSES

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


def evaluate_model(predictor, records_or_frame) -> dict:
    """Metrics of a Predictor on the three-class rows of records or a DataFrame (other rows are counted)."""
    from mlcore.train import class_indices, labelled_frame

    frame = records_or_frame if hasattr(records_or_frame, "columns") else None
    if frame is None:
        from mlcore.data import records_to_frame

        frame = records_to_frame(records_or_frame)
    labelled = labelled_frame(frame)
    y = class_indices(labelled["label"])
    raw = predictor.raw_probabilities(labelled)
    probabilities = calibration.apply_temperature(raw, predictor.temperature)
    predicted = predictor.decide(probabilities)
    metrics = classification_metrics(y, probabilities, predicted)
    metrics["n_excluded_other"] = int(len(frame) - len(labelled))
    metrics["ece_uncalibrated"] = expected_calibration_error(raw, y)
    metrics["temperature"] = predictor.temperature
    metrics["uncertain_threshold"] = predictor.uncertain_threshold
    metrics["uncertain_rate"] = (
        float(np.mean(probabilities.max(axis=1) < predictor.uncertain_threshold)) if len(y) else 0.0
    )
    metrics["model_version"] = predictor.version
    return metrics


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
