"""The one intake (mlcore.intake.take_panel): every way in hands it raw values and gets a clean panel,
the values as received and errors naming each field."""

import pytest

from mlcore.conditions import CONDITION_CODES, conditions_from_diagnosis
from mlcore.intake import split_qualifier, take_panel
from mlcore.schema import INPUT_FIELDS


def test_numbers_in_our_units_give_a_clean_panel_with_every_input_field():
    intake = take_panel({"age": 50, "sex": "F", "TSH": 2.1, "TT4": 100})
    assert intake.ok and intake.errors == []
    assert set(intake.panel.values) == set(INPUT_FIELDS)
    assert intake.panel.values["TSH"] == 2.1 and intake.panel.values["T3"] is None
    assert intake.panel.received == {}


def test_text_with_a_decimal_comma_and_a_qualifier_keeps_the_qualifier():
    intake = take_panel({"TSH": "<0,005", "FT4": "45,2", "age": "61,5"})
    panel = intake.panel
    assert panel.values["TSH"] == 0.005 and panel.values["FT4"] == 45.2 and panel.values["age"] == 61.5
    assert panel.qualifiers == {"TSH": "<"}
    assert panel.received["TSH"] == {"value": 0.005, "unit": "m[IU]/L", "qualifier": "<"}
    assert panel.record()["qualifiers"] == {"TSH": "<"}


def test_a_value_with_its_unit_is_converted_and_kept_as_sent():
    intake = take_panel({"TT4": {"value": 8.1, "unit": "µg/dL"}, "TSH": 4})
    assert intake.panel.values["TT4"] == pytest.approx(104.247)
    assert intake.panel.received["TT4"] == {"value": 8.1, "unit": "µg/dL"}


def test_units_named_apart_apply_to_plain_values():
    intake = take_panel({"TSH": "1.5", "FT4": "1.2"}, units={"FT4": "ng/dL"})
    assert intake.panel.values["FT4"] == pytest.approx(15.444)
    assert intake.panel.received["FT4"]["unit"] == "ng/dL"


def test_a_reference_range_sent_with_a_value_becomes_an_interval_in_our_units():
    intake = take_panel({"TSH": 3, "FT4": {"value": 1.1, "unit": "ng/dL", "reference": [0.9, 1.7]}})
    low, high = intake.panel.intervals["FT4"]
    assert low == pytest.approx(11.583) and high == pytest.approx(21.879)
    assert intake.panel.record()["intervals"]["FT4"] == (low, high)


def test_every_problem_is_named_by_its_field():
    intake = take_panel({"TSH": "abc", "TT4": {"value": 5, "unit": "furlongs"}, "T3": -1, "sex": "X"})
    errors = intake.error_map()
    assert not intake.ok
    assert set(errors) == {"TSH", "TT4", "T3", "sex"}
    assert "not a number" in errors["TSH"][0]
    assert "furlongs" in errors["TT4"][0]
    assert "negative" in errors["T3"][0]


def test_a_panel_without_any_lab_value_is_refused_under_labs():
    intake = take_panel({"age": 40, "sex": "M"})
    assert list(intake.error_map()) == ["labs"]
    assert take_panel({"age": 40}, require_lab=False).ok


def test_unknown_fields_are_refused_unless_allowed():
    assert "colour" in take_panel({"TSH": 1, "colour": "red"}).error_map()
    assert take_panel({"TSH": 1, "colour": "red"}, allow_unknown=True).ok


def test_bad_qualifier_and_reference_are_named():
    errors = take_panel(
        {"TSH": {"value": 1, "qualifier": "~"}, "FT4": {"value": 12, "reference": [20, 10]}}
    ).error_map()
    assert "qualifier" in errors["TSH"][0]
    assert "low end above its high end" in errors["FT4"][0]


@pytest.mark.parametrize(
    "text, expected",
    [("<0.005", ("<", "0.005")), ("≥ 100", (">=", "100")), ("<= 0,1", ("<=", "0,1")), ("5", ("", "5"))],
)
def test_split_qualifier(text, expected):
    assert split_qualifier(text) == expected


@pytest.mark.parametrize(
    "diagnosis, codes",
    [
        ("-", set()),
        ("A", set()),
        ("K", {"non_thyroidal_illness"}),
        ("GK", {"non_thyroidal_illness"}),
        ("MK", {"replacement_under", "non_thyroidal_illness"}),
        ("C|I", {"binding_protein_increased"}),
        ("GKJ", {"non_thyroidal_illness", "binding_protein_decreased"}),
        ("P", {"antithyroid_treatment"}),
        ("S", {"elevated_tbg"}),
        ("R", {"discordant_assays"}),
        ("L", {"replacement_consistent"}),
        ("N", {"replacement_over"}),
    ],
)
def test_conditions_from_garvan_letters(diagnosis, codes):
    assert conditions_from_diagnosis(diagnosis) == codes
    assert set(codes) <= set(CONDITION_CODES)
