"""Explanations read right: no item for a value that was not measured, and the class an item names is the
one whose probability the value raised (the sign of its attribution)."""

import numpy as np
import pytest

from mlcore.explain import explain_row
from mlcore.predictor import Predictor
from mlcore.schema import CLASSES, LAB_TESTS, validate_panel


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


PANELS = [
    {"age": 60, "sex": "F", "TSH": 45, "TT4": 40},  # partial: T3, T4U, FTI, TBG not measured
    {"age": 50, "sex": "F", "TSH": 0.2, "T3": 2.9, "TT4": 150, "FTI": 150},
    {"age": 30, "sex": "M", "TSH": 0.01, "T3": 4.5, "TT4": 220, "T4U": 1.0, "FTI": 220},
    {"age": 45, "TSH": 8.0},
]


@pytest.mark.parametrize("raw", PANELS)
def test_no_explanation_item_for_a_value_that_was_not_measured(predictor, raw):
    panel = validate_panel(raw)
    (result,) = predictor.predict([panel])
    assert result.explanation  # something is explained...
    for item in result.explanation:  # ...and only what was measured or given
        assert item["value"] is not None, item["text"]
        assert "not measured" not in item["text"]
        if item["feature"] in LAB_TESTS:
            assert panel[item["feature"]] is not None
        if item["feature"] == "T3_TT4_ratio":
            assert panel["T3"] is not None and panel["TT4"] is not None


@pytest.mark.parametrize("raw", PANELS)
def test_the_class_named_is_the_one_the_value_raised_and_the_one_it_lowered_is_said(predictor, raw):
    (result,) = predictor.predict([validate_panel(raw)])
    for item in result.explanation:
        contributions = item["contributions"]
        assert contributions[item["towards"]] > 0
        assert contributions[item["towards"]] == max(contributions.values())
        assert f"pushed towards {item['towards']} (+" in item["text"]
        if item["against"] is not None:
            assert contributions[item["against"]] < 0
            assert f"away from {item['against']} (-" in item["text"]


def test_an_input_that_lowers_the_answered_class_says_so():
    """Values pushing towards hyperthyroid while the answer stays normal: the item says 'away from normal'."""
    row = validate_panel({"age": 50, "sex": "F", "TSH": 0.2, "T3": 2.9})
    attributions = {"T3": np.array([-0.0073, 0.0069, 0.0004]), "TT4": np.array([0.02, -0.01, -0.01])}
    items = explain_row(row, attributions)
    assert [item["feature"] for item in items] == ["T3"]  # TT4 was not measured: no item
    assert items[0]["towards"] == "hyperthyroid" and items[0]["against"] == "normal"
    assert items[0]["text"] == "T3 2.9 nmol/L pushed towards hyperthyroid (+0.7 points), away from normal (-0.7 points)"


def test_a_change_past_the_integration_error_is_shown_within_100_points():
    row = validate_panel({"age": 50, "sex": "F", "TSH": 45})
    (item,) = explain_row(row, {"TSH": np.array([-1.02, 0.0, 1.02])})
    assert item["text"] == "TSH 45 mU/L pushed towards hypothyroid (+100.0 points), away from normal (-100.0 points)"
    assert set(item["contributions"]) == set(CLASSES)
