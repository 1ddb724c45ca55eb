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


@pytest.mark.parametrize("base", [{}, {"T3": None}, {"T3": None, "T4U": None, "FTI": None}])
def test_the_tsh_cut_off_of_the_labels_is_a_step_not_a_slope(predictor, base):
    """Every hypothyroid record of the training data has TSH 6.1 mU/L or more (compensated
    hypothyroidism, Garvan code G), and normal records rarely do: just above the cut-off with normal
    thyroxine the class is hypothyroid, as the guideline reading's subclinical pattern says (TSH above
    its interval, docs/clinical-facts.md), and just below it the class is normal. The model read this cut-off
    as a slope before each bin edge got a step bit (TSH 6.1-6.4 called normal, p 0.1-0.5)."""
    below, above = predictor.predict([panel(**base, TSH=5.6), panel(**base, TSH=6.2)], explain=False)
    assert below.predicted_class == "normal"
    assert above.predicted_class == "hypothyroid" and above.probabilities["hypothyroid"] > 0.8
    assert not any(reason["code"] == "model_disagrees_with_reading" for reason in above.reasons)


@pytest.mark.parametrize(
    "base",
    [
        {},
        {"T3": None},
        {"T4U": None, "FTI": None},
        {"T3": None, "T4U": None, "FTI": None},
        {"age": 75, "sex": "M"},
    ],
)
def test_raising_tsh_never_lowers_p_hypothyroid_on_a_normal_base_panel(predictor, base):
    tsh = np.geomspace(0.3, 200, 120)
    p_hypo = predictor.predict_proba([panel(**base, TSH=t) for t in tsh])[:, CLASSES.index("hypothyroid")]
    assert p_hypo[0] < 0.05 and p_hypo[-1] > 0.5
    # Not a constrained monotone network: a dip below 0.01 is rounding, not a reversal.
    assert np.diff(p_hypo).min() > -0.01


@pytest.mark.parametrize("fti", ["recorded", "derived"])
def test_raising_thyroxine_raises_p_hyperthyroid_on_a_low_tsh_base(predictor, fti):
    # TT4 and FTI rise together (FTI = TT4 / T4U), recorded or derived from TT4 / T4U. An FTI that
    # contradicts the TT4 beside it is no panel a laboratory reports: the model reads TT4 there.
    values = np.linspace(100, 250, 60)
    rows = [panel(TSH=0.05, TT4=v, FTI=v / 0.96 if fti == "recorded" else None) for v in values]
    p_hyper = predictor.predict_proba(rows)[:, CLASSES.index("hyperthyroid")]
    assert p_hyper[-1] > 0.8 and p_hyper[-1] > p_hyper[0] + 0.3
    assert np.diff(p_hyper).min() > -0.01


CLEAR_CASES = [
    ({"TSH": 1.3, "T3": 2.0, "TT4": 104, "T4U": 0.96, "FTI": 108}, "normal"),
    ({"TSH": 0.01, "T3": 5.0, "TT4": 220, "T4U": 0.96, "FTI": 229}, "hyperthyroid"),
    ({"TSH": 60, "T3": 0.9, "TT4": 40, "T4U": 0.96, "FTI": 42}, "hypothyroid"),
]


@pytest.mark.parametrize("labs, expected", CLEAR_CASES)
def test_sex_and_age_do_not_change_a_clear_case(predictor, labs, expected):
    rows = [validate_panel({**labs, "sex": sex, "age": age}) for sex in ("F", "M", None) for age in (20, 45, 70, 88)]
    assert {r.predicted_class for r in predictor.predict(rows, explain=False)} == {expected}


@pytest.mark.parametrize(
    "labs, expected",
    [
        ({"TSH": 45, "TT4": 40}, "hypothyroid"),
        ({"TSH": 0.01, "TT4": 200, "T3": 4}, "hyperthyroid"),
        ({"TSH": 0.01, "TT4": 220}, "hyperthyroid"),
        ({"TSH": 60, "TT4": 30}, "hypothyroid"),
        ({"TSH": 1.5, "TT4": 100}, "normal"),
        ({"TSH": 1.5, "TT4": 100, "T3": 2.0}, "normal"),
    ],
)
def test_partial_panels_of_clear_cases_get_their_class(predictor, labs, expected):
    (result,) = predictor.predict([validate_panel({"age": 45, "sex": "F", **labs})])
    assert result.predicted_class == expected
    assert result.probabilities[expected] > 0.7


def test_the_shipped_model_has_a_scope_and_flags_an_absurd_panel(predictor):
    scope = predictor.metadata["scope"]
    assert set(scope["ranges"]) == {"TSH", "T3", "TT4", "T4U", "FTI", "TBG", "age"}
    threshold = scope["novelty"]["threshold"]
    scores = predictor.novelty(
        [panel(), panel(TSH=0.01, T3=5.0, TT4=220, FTI=229), validate_panel({"TSH": 0.01, "TT4": 17})]
    )
    assert scores[0] < threshold and scores[1] < threshold < scores[2]
    assert predictor.metadata["config"]["members"] >= 3 and predictor.network.networks >= 3
    assert 0.4 <= predictor.metadata["uncertain_threshold"] < 1 and predictor.metadata["out_of_fold"]["folds"] >= 5


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
    predictor.predict([panel(TSH=3)])  # the first explanation builds the float64 kernels, once a process
    explained = []
    for _ in range(5):
        started = time.perf_counter()
        predictor.predict([panel(TSH=20)])
        explained.append(time.perf_counter() - started)
    explained = min(explained)
    # Budgets on an idle 2-core machine: 1 ms, 2 s (three averaged networks: about twice the arithmetic of
    # one) and a few ms (bench/model_quality.py --speed prints them); the bounds here are loose
    # because CI and developers share the cores.
    assert one_row < 0.005 and bulk < 20.0 and explained < 0.05
