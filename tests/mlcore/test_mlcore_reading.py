"""The guideline reading (mlcore.reading): every row of docs/clinical-facts.md's pattern table, and its place beside
the model."""

import pytest

from mlcore import reading, rules
from mlcore.predictor import Predictor
from mlcore.schema import validate_panel

# (TSH mU/L, free T4 pmol/L, free T3 pmol/L or None, reading): docs/clinical-facts.md "Reading TSH with
# thyroxine", row by row.
# Reference intervals: TSH 0.27-4.2, FT4 12-22, FT3 3.1-6.8.
PATTERN_ROWS = [
    # high TSH, low thyroxine, any T3: overt primary hypothyroidism
    (8.2, 9.0, 3.5, "overt_primary_hypothyroidism"),
    (45.0, 5.0, 2.0, "overt_primary_hypothyroidism"),
    (45.0, 5.0, None, "overt_primary_hypothyroidism"),
    # high TSH below 10, normal thyroxine and T3: mild subclinical hypothyroidism
    (6.5, 15.0, 4.5, "mild_subclinical_hypothyroidism"),
    (9.99, 15.0, None, "mild_subclinical_hypothyroidism"),
    # high TSH of 10 or more, normal thyroxine and T3: subclinical hypothyroidism
    (10.0, 15.0, 4.5, "subclinical_hypothyroidism"),
    (14.0, 13.0, 4.0, "subclinical_hypothyroidism"),
    # low TSH, high thyroxine, high or normal T3: overt hyperthyroidism
    (0.01, 40.0, 12.0, "overt_hyperthyroidism"),
    (0.01, 30.0, 5.0, "overt_hyperthyroidism"),
    # low TSH, normal thyroxine, high T3: T3 toxicosis
    (0.02, 18.0, 9.0, "t3_toxicosis"),
    # TSH 0.1-0.4 (below our 0.27 reference limit), normal thyroxine and T3: grade 1
    (0.2, 15.0, 4.5, "subclinical_hyperthyroidism_grade_1"),
    (0.1, 15.0, None, "subclinical_hyperthyroidism_grade_1"),
    # TSH below 0.1, normal thyroxine and T3: grade 2
    (0.05, 15.0, 4.5, "subclinical_hyperthyroidism_grade_2"),
    # low or normal TSH, low thyroxine, any T3: central hypothyroidism or non-thyroidal illness
    (0.01, 8.0, 2.0, "central_hypothyroidism_or_non_thyroidal_illness"),
    (1.5, 8.0, 4.0, "central_hypothyroidism_or_non_thyroidal_illness"),
    # normal or high TSH, high thyroxine, any T3: inappropriate TSH
    (2.0, 30.0, 5.0, "inappropriate_tsh"),
    (12.0, 30.0, 8.0, "inappropriate_tsh"),
    # normal TSH, thyroxine and T3: euthyroid
    (1.3, 16.0, 4.5, "euthyroid"),
    (1.3, 16.0, None, "euthyroid"),
    # Our choice: TSH 0.27-0.4 lies in the reference interval and reads euthyroid.
    (0.3, 16.0, 4.5, "euthyroid"),
    # Combinations no row allows.
    (6.5, 15.0, 2.0, "unclassified"),
    (1.3, 16.0, 9.0, "unclassified"),
    (0.01, 15.0, 2.0, "unclassified"),
]


@pytest.mark.parametrize(("tsh", "ft4", "ft3", "code"), PATTERN_ROWS)
def test_every_row_of_the_pattern_table_reads_as_domain_md_says(tsh, ft4, ft3, code):
    pattern = reading.read_panel(validate_panel({"TSH": tsh, "FT4": ft4, "FT3": ft3}))
    assert pattern["code"] == code
    assert pattern["thyroxine"] == "FT4"
    assert pattern["T3"] == ("FT3" if ft3 is not None else None)


def test_every_pattern_code_is_covered_by_a_row():
    assert {code for *_, code in PATTERN_ROWS} | {"not_readable"} == set(reading.CODES)


@pytest.mark.parametrize(
    ("values", "thyroxine", "code"),
    [
        # free T4 first, even when FTI and TT4 say otherwise
        ({"TSH": 8.2, "FT4": 9.0, "FTI": 100.0, "TT4": 100.0}, "FT4", "overt_primary_hypothyroidism"),
        # then FTI (total T4 high from binding proteins, FTI normal: subclinical)
        ({"TSH": 6.0, "FTI": 100.0, "TT4": 170.0, "T4U": 1.7}, "FTI", "mild_subclinical_hypothyroidism"),
        # then total T4
        ({"TSH": 45.0, "TT4": 40.0}, "TT4", "overt_primary_hypothyroidism"),
    ],
)
def test_thyroxine_is_free_t4_first_then_fti_then_total_t4(values, thyroxine, code):
    pattern = reading.read_panel(validate_panel(values))
    assert (pattern["thyroxine"], pattern["code"]) == (thyroxine, code)


def test_free_t3_is_read_before_total_t3():
    pattern = reading.read_panel(validate_panel({"TSH": 0.02, "FT4": 18.0, "FT3": 9.0, "T3": 2.0}))
    assert (pattern["T3"], pattern["code"]) == ("FT3", "t3_toxicosis")


@pytest.mark.parametrize(
    ("values", "missing"),
    [({"FT4": 9.0}, ["TSH"]), ({"TSH": 8.2, "T3": 2.0}, ["thyroxine"]), ({"T3": 2.0}, ["TSH", "thyroxine"])],
)
def test_without_tsh_or_thyroxine_the_panel_is_not_readable(values, missing):
    pattern = reading.read_panel(validate_panel(values))
    assert pattern["code"] == "not_readable"
    assert pattern["missing"] == missing


@pytest.mark.parametrize(
    ("code", "predicted", "disagrees"),
    [
        ("overt_primary_hypothyroidism", "normal", True),
        ("mild_subclinical_hypothyroidism", "hypothyroid", False),
        ("subclinical_hypothyroidism", "hyperthyroid", True),
        ("overt_hyperthyroidism", "normal", True),
        ("t3_toxicosis", "hyperthyroid", False),
        ("subclinical_hyperthyroidism_grade_2", "hypothyroid", True),
        ("euthyroid", "hypothyroid", True),
        ("euthyroid", "normal", False),
        # no class to compare: the discordance rule refers these already
        ("central_hypothyroidism_or_non_thyroidal_illness", "normal", False),
        ("inappropriate_tsh", "normal", False),
        ("unclassified", "normal", False),
        ("not_readable", "normal", False),
    ],
)
def test_the_model_disagreeing_with_the_reading_is_a_reason_to_refer(code, predicted, disagrees):
    reasons = rules.model_disagrees_with_reading(predicted, {"code": code})
    assert bool(reasons) is disagrees
    if disagrees:
        assert reasons[0].to_dict() == {
            "code": "model_disagrees_with_reading",
            "params": {"predicted_class": predicted, "pattern": code},
        }


def test_assess_refers_a_class_the_reading_contradicts():
    panel = validate_panel({"TSH": 1.3, "FT4": 16.0, "FT3": 4.5, "age": 50})
    probabilities = {"normal": 0.01, "hyperthyroid": 0.01, "hypothyroid": 0.98}
    pattern = reading.read_panel(panel)
    disagreeing = rules.assess(panel, "hypothyroid", probabilities, rules.ModelScope(), pattern=pattern)
    assert disagreeing.outcome == "refer"
    assert [reason.code for reason in disagreeing.reasons] == ["model_disagrees_with_reading"]
    agreeing = rules.assess(
        panel,
        "normal",
        {"normal": 0.98, "hyperthyroid": 0.01, "hypothyroid": 0.01},
        rules.ModelScope(),
        pattern=pattern,
    )
    assert agreeing.outcome == "assessed"


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


def test_the_predictor_gives_the_reading_and_names_the_values_the_model_did_not_use(predictor):
    result = predictor.predict([validate_panel({"TSH": 8.2, "FT4": 9.0, "FT3": 3.5})])[0]
    assert result.pattern == {
        "code": "overt_primary_hypothyroidism",
        "thyroxine": "FT4",
        "T3": "FT3",
        "levels": {"TSH": "high", "FT4": "low", "FT3": "normal"},
    }
    assert {"code": "not_used_by_model", "params": {"fields": ["FT4", "FT3"]}} in result.warnings


def test_free_t4_does_not_change_the_models_probabilities(predictor):
    """The network reads no free hormone (it was not trained on any): FT4 changes the reading, not the model."""
    without = predictor.predict([validate_panel({"TSH": 8.2})])[0]
    with_ft4 = predictor.predict([validate_panel({"TSH": 8.2, "FT4": 30.0})])[0]
    assert with_ft4.probabilities == without.probabilities
    assert with_ft4.pattern["code"] == "inappropriate_tsh"
    assert without.pattern["code"] == "not_readable"
    assert not any(w["code"] == "not_used_by_model" for w in without.warnings)


def test_a_model_reading_disagreement_gives_refer_through_the_predictor(predictor):
    """Normal totals and a TSH at the top of its interval: the model reads normal; free T4 below its
    interval with TSH 4.5 reads overt primary hypothyroidism. The two disagree: refer, with that reason."""
    panel = validate_panel({"TSH": 4.5, "FT4": 10.0, "TT4": 110.0, "T4U": 1.0, "FTI": 110.0, "T3": 2.0, "age": 50})
    result = predictor.predict([panel])[0]
    assert result.pattern["code"] == "overt_primary_hypothyroidism"
    assert result.predicted_class == "normal"
    assert result.outcome == "refer"
    assert {
        "code": "model_disagrees_with_reading",
        "params": {"predicted_class": "normal", "pattern": "overt_primary_hypothyroidism"},
    } in result.reasons


def test_the_model_card_says_free_hormones_are_not_model_inputs_nor_mapped_onto_fti(predictor):
    import json

    from mlcore.model_card import render_model_card

    metadata = dict(predictor.metadata)
    metadata.setdefault("metrics", json.loads((predictor.model_dir / "metrics.json").read_text()))
    card = " ".join(render_model_card(metadata).split())
    assert "Free T4 and free T3 are not inputs of the network" in card
    assert "Free T4 is not mapped onto the FTI input" in card
