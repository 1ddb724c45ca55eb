import numpy as np
import pytest

from mlcore.preprocessing import NUMERIC_FEATURES, Preprocessor
from mlcore.schema import validate_panel
from mlcore.train import labelled_frame


@pytest.fixture(scope="module")
def fitted(dev_frame):
    frame = labelled_frame(dev_frame)
    return Preprocessor().fit(frame, frame["label"]), frame


def test_saved_and_reloaded_preprocessing_gives_identical_output(fitted, tmp_path):
    preprocessor, frame = fitted
    preprocessor.save(tmp_path / "preprocessing.json")
    reloaded = Preprocessor.load(tmp_path / "preprocessing.json")
    assert np.array_equal(preprocessor.transform(frame), reloaded.transform(frame))


def test_dicts_and_dataframe_encode_the_same(fitted):
    preprocessor, frame = fitted
    rows = frame.head(200)
    assert np.array_equal(preprocessor.transform(rows), preprocessor.transform(rows.to_dict("records")))


def test_missing_value_is_zeros_plus_its_indicator(fitted):
    preprocessor, _ = fitted
    encoded = preprocessor.transform([validate_panel({"TSH": None, "T3": 2.0})])[0]
    columns = preprocessor.feature_groups["TSH"]
    assert np.all(encoded[columns[:-1]] == 0) and encoded[columns[-1]] == 1
    t3 = preprocessor.feature_groups["T3"]
    assert encoded[t3[-1]] == 0 and encoded[t3[:-2]].sum() > 0


def test_tree_cut_edges_fall_on_clinical_thresholds(fitted):
    preprocessor, _ = fitted
    tsh_edges = np.array(preprocessor.edges["TSH"])
    # The labels follow TSH above the reference interval (about 4-10 mU/L) and suppressed TSH (< 0.3).
    assert np.any((tsh_edges > 4) & (tsh_edges < 10))
    assert np.any(tsh_edges < 0.3)


def test_encoding_is_monotone_in_each_numeric_value(fitted):
    preprocessor, _ = fitted
    for name in NUMERIC_FEATURES[1:-1]:
        low, high = preprocessor.edges[name][0], preprocessor.edges[name][-1]
        values = np.linspace(low, high, 50)
        encoded = preprocessor.transform([validate_panel({name: v}) for v in values])
        ramps = encoded[:, preprocessor.feature_groups[name][:-2]].sum(axis=1)
        assert np.all(np.diff(ramps) >= 0), name


def test_transform_is_fast_for_a_large_frame(fitted):
    import time

    import pandas as pd

    preprocessor, frame = fitted
    big = pd.concat([frame] * 17, ignore_index=True)
    started = time.perf_counter()
    preprocessor.transform(big)
    assert time.perf_counter() - started < 1.0


def test_a_missing_fti_is_derived_from_tt4_and_t4u(fitted):
    from mlcore.preprocessing import numeric_matrix

    preprocessor, _ = fitted
    given = validate_panel({"TSH": 1.0, "TT4": 120, "T4U": 0.8, "FTI": 150})
    derived = validate_panel({"TSH": 1.0, "TT4": 120, "T4U": 0.8})
    assert numeric_matrix([derived])[0, NUMERIC_FEATURES.index("FTI")] == 150
    assert np.array_equal(preprocessor.transform([derived]), preprocessor.transform([given]))
    # a measured FTI is kept as measured, and without T4U nothing is derived
    odd = validate_panel({"TSH": 1.0, "TT4": 120, "T4U": 0.8, "FTI": 100})
    assert numeric_matrix([odd])[0, NUMERIC_FEATURES.index("FTI")] == 100
    assert np.isnan(numeric_matrix([validate_panel({"TSH": 1.0, "TT4": 120})])[0, NUMERIC_FEATURES.index("FTI")])


def test_the_network_reads_the_six_garvan_labs_and_not_the_referral_source(fitted):
    from mlcore.preprocessing import MODEL_LABS

    preprocessor, _ = fitted
    assert MODEL_LABS == ("TSH", "T3", "TT4", "T4U", "FTI", "TBG")
    groups = preprocessor.feature_groups
    assert "referral_source" not in groups and set(MODEL_LABS) <= set(groups)
    panel = validate_panel({"TSH": 3.0, "TT4": 100})
    assert np.array_equal(
        preprocessor.transform([{**panel, "referral_source": "SVI"}]),
        preprocessor.transform([{**panel, "referral_source": "other"}]),
    )


def test_models_saved_before_the_change_keep_their_encoding(fitted):
    preprocessor, frame = fitted
    old = preprocessor.to_dict()
    del old["derive_fti"], old["use_referral_source"]
    reloaded = Preprocessor.from_dict(old)
    assert reloaded.use_referral_source and not reloaded.derive_fti
    assert reloaded.n_features == preprocessor.n_features + 6


def test_a_step_bit_marks_each_cut_off_where_the_class_changes_and_only_there(fitted):
    preprocessor, _ = fitted
    edges, steps = np.array(preprocessor.edges["TSH"]), preprocessor.steps["TSH"]
    # the labels' TSH cut-offs: hypothyroid above about 6 mU/L, hyperthyroid at a low TSH (about 0.3)
    cut = [step for step in steps if 4 < step < 10]
    assert len(cut) == 1 and any(step < 0.5 for step in steps)
    assert set(steps) < set(edges[1:-1])  # edges inside a class's range only bend (ramps)
    below, above = preprocessor.transform(
        [validate_panel({"TSH": cut[0] - 0.04}), validate_panel({"TSH": cut[0] + 0.04})]
    )
    columns = preprocessor.feature_groups["TSH"]
    bits = slice(columns[0] + len(edges) - 1, columns[-2])
    # ramps move by a few hundredths across the cut-off; one step bit goes from 0 to 1
    assert np.abs(above[columns[0] : bits.start] - below[columns[0] : bits.start]).max() < 0.2
    assert above[bits].sum() - below[bits].sum() == 1
    assert len(columns) == len(edges) - 1 + len(steps) + 2


def test_class_boundaries_are_where_the_leading_class_of_the_bins_changes():
    from mlcore.preprocessing import class_boundaries

    values = np.array([1.0] * 50 + [3.0] * 50 + [5.0] * 50 + [7.0] * 50)
    labels = np.array([0] * 50 + [0] * 45 + [2] * 5 + [2] * 40 + [0] * 10 + [2] * 50)
    # the bins point to normal, normal, hypothyroid, hypothyroid: one step, at 4
    assert class_boundaries(values, labels, [0.0, 2.0, 4.0, 6.0, 8.0]) == [4.0]


def test_models_saved_before_step_bits_keep_their_encoding(fitted):
    preprocessor, frame = fitted
    old = preprocessor.to_dict()
    del old["step_bits"], old["steps"]
    reloaded = Preprocessor.from_dict(old)
    n_steps = sum(len(steps) for steps in preprocessor.steps.values())
    assert n_steps > 0 and not reloaded.step_bits and reloaded.n_features == preprocessor.n_features - n_steps
    encoded = reloaded.transform(frame.head(50))
    assert encoded.shape == (50, reloaded.n_features)
