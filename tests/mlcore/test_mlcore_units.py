"""The one conversion table (mlcore.units): every unit both ways, the text spellings labs write, clear refusals."""

import pytest

from mlcore import units
from mlcore.schema import LAB_TESTS, InputError

# docs/clinical-facts.md's units table and metric prefixes: (field, UCUM code, value in that unit, value in ours).
CONVERSIONS = [
    ("TSH", "m[IU]/L", 8.2, 8.2),
    ("TSH", "u[IU]/mL", 8.2, 8.2),
    ("TSH", "[iU]/L", 0.0082, 8.2),
    ("TSH", "m[IU]/mL", 0.0082, 8.2),
    ("T3", "nmol/L", 2.0, 2.0),
    ("T3", "pmol/L", 2000.0, 2.0),
    ("T3", "ng/dL", 100.0, 1.536),
    ("T3", "ng/mL", 1.0, 1.536),
    ("T3", "ug/L", 1.0, 1.536),
    ("T3", "pg/mL", 1000.0, 1.536),
    ("TT4", "nmol/L", 100.0, 100.0),
    ("TT4", "pmol/L", 100000.0, 100.0),
    ("TT4", "ug/dL", 8.1, 104.247),
    ("TT4", "ug/L", 81.0, 104.247),
    ("TT4", "ng/mL", 81.0, 104.247),
    ("TT4", "ng/dL", 8100.0, 104.247),
    ("T4U", "1", 0.95, 0.95),
    ("T4U", "{ratio}", 0.95, 0.95),
    ("FTI", "nmol/L", 110.0, 110.0),
    ("TBG", "mg/L", 20.0, 20.0),
    ("TBG", "ug/mL", 20.0, 20.0),
    ("TBG", "mg/dL", 2.0, 20.0),
    ("TBG", "ug/L", 20000.0, 20.0),
    ("FT4", "pmol/L", 9.0, 9.0),
    ("FT4", "nmol/L", 0.009, 9.0),
    ("FT4", "ng/dL", 0.7, 9.009),
    ("FT4", "ng/L", 7.0, 9.009),
    ("FT4", "pg/mL", 7.0, 9.009),
    ("FT3", "pmol/L", 3.5, 3.5),
    ("FT3", "nmol/L", 0.0035, 3.5),
    ("FT3", "pg/mL", 2.0, 3.072),
    ("FT3", "ng/L", 2.0, 3.072),
    ("FT3", "ng/dL", 0.2, 3.072),
    ("age", "a", 61.0, 61.0),
    ("age", "mo", 18.0, 1.5),
]


def test_every_unit_of_the_table_is_tested():
    assert {(field, code) for field, code, *_ in CONVERSIONS} == {
        (field, code) for field, table in units.CONVERSIONS.items() for code in table
    }


@pytest.mark.parametrize(("field", "code", "theirs", "ours"), CONVERSIONS)
def test_every_unit_converts_both_ways(field, code, theirs, ours):
    assert units.to_ours(field, theirs, code) == pytest.approx(ours, rel=1e-9)
    assert units.from_ours(field, ours, code) == pytest.approx(theirs, rel=1e-6)


def test_our_unit_is_the_first_of_each_field_with_factor_one():
    for field, test in LAB_TESTS.items():
        assert units.CONVERSIONS[field][units.our_unit(field)] == 1.0
        assert units.display(units.our_unit(field)) in (test.unit, "ratio")


@pytest.mark.parametrize(
    ("field", "text", "code"),
    [
        ("TT4", "µg/dL", "ug/dL"),
        ("TT4", "μg/dL", "ug/dL"),  # Greek mu
        ("TT4", "ug/dL", "ug/dL"),
        ("TT4", "mcg/dL", "ug/dL"),
        ("TSH", "µIU/mL", "u[IU]/mL"),
        ("TSH", "uIU/mL", "u[IU]/mL"),
        ("TSH", "mUI/L", "m[IU]/L"),
        ("TSH", "mIU/L", "m[IU]/L"),
        ("TSH", "mU/L", "m[IU]/L"),
        ("TSH", "mU/mL", "m[IU]/mL"),
        ("FT4", "pmol/l", "pmol/L"),
        ("FT4", "ng/dL", "ng/dL"),
        ("FT4", "ng/dl", "ng/dL"),
        ("FT3", "pg/mL", "pg/mL"),
        ("FT3", "pg/ml", "pg/mL"),
        ("T4U", "ratio", "1"),
        ("TBG", "µg/mL", "ug/mL"),
    ],
)
def test_common_text_spellings_map_to_their_ucum_code(field, text, code):
    assert units.ucum_code(field, text) == code


@pytest.mark.parametrize(("field", "text"), [("TT4", "mg"), ("TSH", "pmol/L"), ("FT4", "ug/dL"), ("FTI", "%")])
def test_a_unit_that_is_not_one_of_the_fields_is_refused_naming_field_and_unit(field, text):
    with pytest.raises(InputError) as error:
        units.to_ours(field, 1.0, text)
    assert error.value.field == field
    assert error.value.message.startswith(f"{field}: unit {text!r} is not a unit of ")
    assert "use one of " + ", ".join(units.CONVERSIONS[field]) in error.value.message


def test_the_refusal_reads_as_a_sentence():
    with pytest.raises(InputError, match=r"^TT4: unit 'mg' is not a unit of total T4; use one of nmol/L, "):
        units.to_ours("TT4", 8.1, "mg")


def test_no_unit_means_ours():
    assert units.to_ours("TSH", 8.2, None) == 8.2
    assert units.to_ours("TSH", 8.2, "") == 8.2
