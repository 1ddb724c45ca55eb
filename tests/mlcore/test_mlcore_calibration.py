import numpy as np
import pandas as pd

from mlcore.calibration import apply_temperature, choose_uncertain_threshold, decide, fit_temperature
from mlcore.evaluate import expected_calibration_error
from mlcore.train import labelled_frame


def synthetic(n=4000, seed=0):
    """Calibrated probabilities and labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 3)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    return p, y


def test_temperature_scaling_undoes_overconfidence():
    p, y = synthetic()
    overconfident = apply_temperature(p, 0.5)
    assert expected_calibration_error(overconfident, y) > 0.05
    temperature = fit_temperature(overconfident, y)
    assert 1.7 < temperature < 2.3
    assert expected_calibration_error(apply_temperature(overconfident, temperature), y) < 0.03


def test_temperature_keeps_the_argmax():
    p, _ = synthetic(200)
    assert np.array_equal(apply_temperature(p, 3.0).argmax(axis=1), p.argmax(axis=1))


def test_decision_weights_favour_the_weighted_class():
    p = np.array([[0.6, 0.4, 0.0]])
    assert decide(p, [1, 1, 1])[0] == 0 and decide(p, [1, 2, 1])[0] == 1


def test_uncertain_threshold_flags_at_most_a_tenth_of_validation_rows():
    p, y = synthetic()
    threshold = choose_uncertain_threshold(p, y, [1, 1, 1])
    assert 0.4 <= threshold <= 0.95
    assert np.mean(p.max(axis=1) < threshold) <= 0.1 + 1e-9


def test_labelled_frame_derives_labels_from_diagnoses_and_drops_other():
    frame = pd.DataFrame({"TSH": [1.0, 50.0, 0.01, 3.0], "diagnosis": ["-", "G", "A", "K"]})
    assert list(labelled_frame(frame)["label"]) == ["normal", "hypothyroid", "hyperthyroid"]
