"""The model shipped inside mlcore: loads out of the box, behaves as a clinician expects, and is fast."""

import time

import numpy as np
import pytest

from mlcore.predictor import DEFAULT_MODEL_DIR, Predictor
from mlcore.schema import CLASSES, validate_panel

NORMAL = {"age": 45, "sex": "F", "TSH": 1.3, "T3": 2.0, "TT4": 104, "T4U": 0.96, "FTI": 108}


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


def panel(**changes):
    return validate_panel({**NORMAL, **changes})


def test_default_model_is_small_and_complete(predictor):
    size = sum(path.stat().st_size for path in DEFAULT_MODEL_DIR.rglob("*") if path.is_file())
    assert size < 3_000_000
    assert predictor.version.startswith("tabm-")
    assert predictor.metadata["metrics"]["macro_f1"] > 0.85
    assert 0.4 <= predictor.uncertain_threshold < 1
    assert (DEFAULT_MODEL_DIR / "model_card.md").is_file()


def test_textbook_panels_get_their_class(predictor):
    results = predictor.predict(
        [
            panel(),
            panel(TSH=0.01, T3=5.0, TT4=220, FTI=229),
            panel(TSH=60, T3=0.9, TT4=40, FTI=42),
        ]
    )
    assert [r.predicted_class for r in results] == list(CLASSES)
    assert results[0].probabilities["normal"] > 0.9


def test_raising_tsh_raises_p_hypothyroid_in_an_otherwise_normal_panel(predictor):
    tsh = np.geomspace(0.3, 200, 80)
    p_hypo = predictor.predict_proba([panel(TSH=t) for t in tsh])[:, CLASSES.index("hypothyroid")]
    assert p_hypo[0] < 0.05 and p_hypo[-1] > 0.5
    # Not a constrained monotone network: allow only small local dips.
    assert np.diff(p_hypo).min() > -0.05


def test_suppressed_tsh_with_high_fti_points_to_hyperthyroid_and_says_why(predictor):
    (result,) = predictor.predict([panel(TSH=0.01, TT4=250, FTI=260, T3=4.0)])
    assert result.predicted_class == "hyperthyroid"
    towards = {item["feature"]: item["towards"] for item in result.explanation}
    assert towards.get("FTI") == "hyperthyroid" or towards.get("TT4") == "hyperthyroid"


def test_predictor_speed(predictor):
    row = [panel()]
    predictor.predict_proba(row)
    started = time.perf_counter()
    for _ in range(100):
        predictor.predict_proba(row)
    one_row = (time.perf_counter() - started) / 100
    rows = [panel(TSH=t) for t in np.geomspace(0.01, 300, 1000)] * 100
    import pandas as pd

    frame = pd.DataFrame(rows)
    started = time.perf_counter()
    predictor.predict_proba(frame)
    bulk = time.perf_counter() - started
    started = time.perf_counter()
    predictor.predict([panel(TSH=20)])
    explained = time.perf_counter() - started
    # Budgets on an idle 2-core machine: 1 ms, 1 s and a few ms (bench/model_quality.py --speed
    # prints them); the bounds here are loose because CI and developers share the cores.
    assert one_row < 0.005 and bulk < 6.0 and explained < 0.05
