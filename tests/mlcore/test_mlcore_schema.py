import pickle

import pytest

from mlcore import rules
from mlcore.schema import (
    CLASSES,
    HISTORY_FLAGS,
    INPUT_FIELDS,
    LAB_TESTS,
    InputError,
    check_value,
    label_from_diagnosis,
    validate_panel,
    validate_panel_all,
)


def panel(**overrides):
    raw = {
        "age": 45,
        "sex": "F",
        "TSH": 1.3,
        "T3": 2.0,
        "TT4": 104,
        "T4U": 0.96,
        "FTI": 109,
    }
    raw.update(overrides)
    return raw


def test_input_fields_are_in_file_order():
    assert INPUT_FIELDS[:2] == ("age", "sex")
    assert INPUT_FIELDS[2:16] == HISTORY_FLAGS
    assert INPUT_FIELDS[16:24] == ("TSH", "T3", "TT4", "T4U", "FTI", "TBG", "FT4", "FT3")
    assert INPUT_FIELDS[-1] == "referral_source"
    assert CLASSES == ("normal", "hyperthyroid", "hypothyroid")
    assert list(LAB_TESTS) == ["TSH", "T3", "TT4", "T4U", "FTI", "TBG", "FT4", "FT3"]


def test_validate_panel_fills_every_field_with_defaults():
    clean = validate_panel(panel())
    assert set(clean) == set(INPUT_FIELDS)
    assert clean["TBG"] is None
    assert clean["on_thyroxine"] is False
    assert clean["referral_source"] == "other"
    assert clean["TSH"] == 1.3 and isinstance(clean["TT4"], float)


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        ("t", True),
        ("f", False),
        ("true", True),
        ("FALSE", False),
        (1, True),
        (0, False),
        (None, False),
    ],
)
def test_flags_accept_the_usual_spellings(value, expected):
    assert validate_panel(panel(pregnant=value))["pregnant"] is expected


@pytest.mark.parametrize("missing", [None, "", "?", float("nan")])
def test_not_measured_lab_values_become_none(missing):
    assert validate_panel(panel(TSH=missing))["TSH"] is None


def test_out_of_range_message_names_field_value_unit_and_range():
    with pytest.raises(InputError) as caught:
        validate_panel(panel(TSH=1200))
    assert caught.value.field == "TSH"
    assert str(caught.value) == "TSH 1200 mU/L is above the plausible maximum 1000 mU/L"


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("TSH", -1, "negative"),
        ("T3", 25, "above the plausible maximum 20 nmol/L"),
        ("TT4", 701, "above the plausible maximum 700 nmol/L"),
        ("T4U", 0.01, "below the plausible minimum 0.05"),
        ("T4U", 5.5, "above the plausible maximum 5"),
        ("FTI", 1001, "above the plausible maximum 1000"),
        ("TBG", 301, "above the plausible maximum 300 mg/L"),
        ("age", 130, "age 130 years is above the plausible maximum 120 years"),
    ],
)
def test_check_value_rejects_implausible_values(field, value, words):
    with pytest.raises(InputError) as caught:
        check_value(field, value)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_wrong_type_is_reported_with_the_value():
    with pytest.raises(InputError, match="TSH 'abc' is not a number"):
        validate_panel(panel(TSH="abc"))


def test_unknown_field_is_an_error_unless_allowed():
    with pytest.raises(InputError) as caught:
        validate_panel(panel(TSH_level=3))
    assert caught.value.field == "TSH_level"
    assert validate_panel(panel(TSH_level=3), allow_unknown=True)["TSH"] == 1.3


def test_validate_panel_all_reports_every_problem():
    clean, errors = validate_panel_all(panel(TSH=1200, sex="X", goitre="maybe", referral_source="NOWHERE"))
    assert clean is None
    assert {error.field for error in errors} == {
        "TSH",
        "sex",
        "goitre",
        "referral_source",
    }


def test_comparator_results_are_read_as_their_bound():
    assert validate_panel(panel(TSH="<0.005"))["TSH"] == 0.005


def test_input_error_survives_pickling():
    error = pickle.loads(pickle.dumps(InputError("TSH", "TSH 1200 mU/L is above")))
    assert (error.field, str(error)) == ("TSH", "TSH 1200 mU/L is above")


def test_unusual_values_warn_but_are_accepted():
    assert validate_panel(panel(TT4=400))["TT4"] == 400
    assert [w.params["direction"] for w in rules.unusual_values(panel(TT4=400))] == ["high"]
    assert rules.unusual_values(panel(TT4=104)) == []


@pytest.mark.parametrize(
    "diagnosis, label",
    [
        ("-", "normal"),
        ("A", "hyperthyroid"),
        ("AK", "hyperthyroid"),
        ("D|R", "other"),
        ("R|D", "hyperthyroid"),
        ("G", "hypothyroid"),
        ("GKJ", "hypothyroid"),
        ("H|K", "other"),
        ("C|I", "other"),
        ("K", "other"),
        ("", "other"),
    ],
)
def test_label_from_diagnosis(diagnosis, label):
    assert label_from_diagnosis(diagnosis) == label


@pytest.mark.parametrize("field", ["age", "TSH", "T3", "on_thyroxine", "psych"])
def test_the_fast_paths_for_csv_texts_give_what_the_full_parse_gives(field):
    from mlcore.schema import HISTORY_FLAGS, _parse_field, _parse_flag, _parse_number

    full = _parse_flag if field in HISTORY_FLAGS else _parse_number
    texts = ["", "?", " ", "t", "T", "True", "TRUE", "f", "F", "false", "0", "1", "yes", "Y", "No", "n", "2",
             "-1", "1.5", " 1.5 ", "<0.005", ">100", "nan", "inf", "1e3", "1_000", "abc", "455", "1e400"]  # fmt: skip

    def outcome(parse, text):
        try:
            return "value", parse(field, text)
        except InputError as error:
            return "error", error.field, str(error)

    for text in texts:
        assert outcome(_parse_field, text) == outcome(full, text), text
