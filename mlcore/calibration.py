"""Post-training choices fitted on validation rows: temperature, decision weights, uncertainty threshold.

- Temperature scaling (Guo et al. 2017): p = softmax(log(q) / T), T fitted by
  log-loss. It changes no argmax.
- Decision weights: the predicted class is argmax(w * p), with per-class
  weights chosen for macro-F1 (the rare hyperthyroid class gains recall).
  The reported probabilities stay calibrated.
- Uncertainty threshold: a prediction is flagged "uncertain" when its top
  probability is below it.
"""

from __future__ import annotations

import numpy as np

from mlcore.schema import CLASSES


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.maximum(probabilities, 1e-12)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(probabilities[np.arange(len(y)), y], 1e-12))))


def fit_temperature(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising validation log-loss (a 1-D search over log T)."""
    if len(y) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 161))
    losses = [log_loss(apply_temperature(probabilities, t), y) for t in grid]
    best = int(np.argmin(losses))
    # Refine around the best grid point.
    fine = np.exp(np.linspace(np.log(grid[max(best - 1, 0)]), np.log(grid[min(best + 1, len(grid) - 1)]), 41))
    losses = [log_loss(apply_temperature(probabilities, t), y) for t in fine]
    return float(fine[int(np.argmin(losses))])


def macro_f1(y: np.ndarray, predicted: np.ndarray, n_classes: int = len(CLASSES)) -> float:
    scores = []
    for c in range(n_classes):
        tp = np.sum((predicted == c) & (y == c))
        fp = np.sum((predicted == c) & (y != c))
        fn = np.sum((predicted != c) & (y == c))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores))


def decide(probabilities: np.ndarray, weights) -> np.ndarray:
    """Predicted class indices: argmax of the weighted probabilities."""
    return np.argmax(probabilities * np.asarray(weights)[None, :], axis=1)


def fit_decision_weights(probabilities: np.ndarray, y: np.ndarray) -> list[float]:
    """Per-class weights maximising validation macro-F1, smoothed over neighbouring grid points.

    Normal stays at 1; the rare classes get weights of at least 1 (a prior: missing a
    dysfunction costs more than a false alarm), which keeps a small validation split from
    talking the model out of its own rare-class predictions.
    """
    hyper_grid = np.geomspace(1.0, 6.0, 11)
    hypo_grid = np.geomspace(1.0, 3.0, 7)
    if len(np.unique(y)) < len(CLASSES):
        return [1.0] * len(CLASSES)
    scores = np.array([[macro_f1(y, decide(probabilities, [1.0, wa, wb])) for wb in hypo_grid] for wa in hyper_grid])
    # A 3x3 mean: with few rare-class cases, prefer a plateau to a lucky single point.
    padded = np.pad(scores, 1, mode="edge")
    smooth = sum(padded[i : i + scores.shape[0], j : j + scores.shape[1]] for i in range(3) for j in range(3)) / 9
    # Ties go to the weights closest to 1 (the plain argmax).
    distance = np.log(hyper_grid)[:, None] + np.log(hypo_grid)[None, :]
    best = np.lexsort((distance.ravel(), -np.round(smooth.ravel(), 6)))[0]
    i, j = np.unravel_index(best, smooth.shape)
    return [1.0, float(hyper_grid[i]), float(hypo_grid[j])]


def choose_uncertain_threshold(
    probabilities: np.ndarray, y: np.ndarray, weights, *, target_accuracy: float = 0.995, max_flagged: float = 0.1
) -> float:
    """The lowest top-probability threshold above which validation accuracy reaches the target,
    flagging at most ``max_flagged`` of the rows."""
    if len(y) == 0:
        return 0.5
    top = probabilities.max(axis=1)
    correct = decide(probabilities, weights) == y
    chosen = 0.4
    for threshold in np.round(np.arange(0.40, 0.96, 0.01), 2):
        if np.mean(top < threshold) > max_flagged:
            break
        chosen = float(threshold)
        if correct[top >= threshold].mean() >= target_accuracy:
            break
    return chosen
