"""The scope fitted on training rows: value ranges and the novelty score."""

import numpy as np
import pytest

from mlcore.schema import validate_panel
from mlcore.scope import RANGE_FIELDS, NoveltyScorer, fit_scope
from mlcore.train import labelled_frame


@pytest.fixture(scope="module")
def scope(dev_frame):
    return fit_scope(labelled_frame(dev_frame))


def test_ranges_cover_the_labs_and_age_between_extreme_percentiles(scope, dev_frame):
    ranges = scope["ranges"]
    assert set(ranges) == set(RANGE_FIELDS) == {"TSH", "T3", "TT4", "T4U", "FTI", "TBG", "age"}
    frame = labelled_frame(dev_frame)
    for name, (low, high) in ranges.items():
        values = frame[name].dropna()
        assert low < high
        outside = ((values < low) | (values > high)).mean()
        # 0.1th-99.9th percentiles: about 0.2 % outside (a value or two of the few TBG ones)
        assert outside <= 0.002 + 2 / len(values), name
    assert ranges["TSH"][0] < 0.1 and ranges["TSH"][1] > 50  # suppressed and very high TSH are in range


def test_novelty_is_larger_for_absurd_panels_than_typical_ones(scope, dev_frame):
    scorer = NoveltyScorer(scope["novelty"])
    threshold = scope["novelty"]["threshold"]
    typical = [
        {"TSH": 1.3, "T3": 2.0, "TT4": 104, "T4U": 0.96},
        {"TSH": 60, "T3": 0.9, "TT4": 40, "T4U": 0.9},  # overt hypothyroidism
        {"TSH": 0.01, "T3": 4.5, "TT4": 200, "T4U": 1.0},  # overt hyperthyroidism
        {"TSH": 2.0, "TT4": 95},
    ]
    absurd = [
        {"TSH": 0.01, "TT4": 17},  # suppressed TSH with a very low TT4
        {"TSH": 150, "T3": 7.0, "TT4": 300, "T4U": 0.9},  # very high TSH with very high hormones
        {"TSH": 1.3, "T3": 2.0, "TT4": 104, "T4U": 0.2},
    ]
    typical_scores = scorer.scores([validate_panel(p) for p in typical])
    absurd_scores = scorer.scores([validate_panel(p) for p in absurd])
    assert typical_scores.max() < threshold < absurd_scores.min()
    training = scorer.scores(labelled_frame(dev_frame))
    assert abs(np.mean(training > threshold) - 0.005) < 0.002


def test_novelty_is_one_score_per_row_and_zero_without_labs(scope):
    scorer = NoveltyScorer(scope["novelty"])
    scores = scorer.scores([validate_panel({"age": 40}), validate_panel({"TSH": 2.0})])
    assert scores.shape == (2,) and scores[0] == 0.0
    assert scope["novelty"]["kind"] and scope["novelty"]["labs"] == ["TSH", "T3", "TT4", "T4U"]
