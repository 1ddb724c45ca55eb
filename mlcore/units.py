"""Units as laboratories send them: one conversion table keyed by UCUM code, and the text spellings of each.

Every lab value is stored in ThyroWeb's unit (``mlcore.schema.LAB_TESTS[field].unit``). A value sent in
another unit is converted with the factor below, whichever way it came: the form, the API, a CSV header
(``TT4[ug/dL]``) or a FHIR Observation. Factors: shared/DOMAIN.md's LOINC table (1 ug/dL total T4 =
12.87 nmol/L; 1 ng/dL total T3 = 0.01536 nmol/L; 1 pg/mL free T3 = 1.536 pmol/L; free T4 shares total
T4's molar mass, so 1 ng/dL = 12.87 pmol/L) and the metric prefixes (1 dL = 100 mL, 1 ug = 1000 ng).

A unit written as text is read as its UCUM code when that is unambiguous for the field: ``µg/dL`` and
``mcg/dL`` are ``ug/dL``, ``mUI/L`` (French) and ``mIU/L`` are ``m[IU]/L``, ``µIU/mL`` is ``u[IU]/mL``,
``pmol/l`` is ``pmol/L``. Case is ignored: no two units of one field differ only by case.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlcore.schema import LAB_TESTS, InputError

# Per field, by the property the LOINC code names (a molar or a mass concentration; FHIR's import keeps a
# molar code to molar units), the factor from each UCUM unit to ThyroWeb's unit.
MOLAR: dict[str, dict[str, float]] = {
    "T3": {"nmol/L": 1.0, "pmol/L": 0.001},
    "TT4": {"nmol/L": 1.0, "pmol/L": 0.001},
    "FT4": {"pmol/L": 1.0, "nmol/L": 1000.0},
    "FT3": {"pmol/L": 1.0, "nmol/L": 1000.0},
}
MASS: dict[str, dict[str, float]] = {
    "T3": {"ng/dL": 0.01536, "ng/mL": 1.536, "ug/L": 1.536, "pg/mL": 0.001536},
    "TT4": {"ug/dL": 12.87, "ug/L": 1.287, "ng/mL": 1.287, "ng/dL": 0.01287},
    "FT4": {"ng/dL": 12.87, "ng/L": 1.287, "pg/mL": 1.287},
    "FT3": {"pg/mL": 1.536, "ng/L": 1.536, "ng/dL": 15.36},
    "TBG": {"ug/mL": 1.0, "mg/L": 1.0, "mg/dL": 10.0, "ug/L": 0.001},
}
# The one conversion table: field -> {UCUM code: factor to ThyroWeb's unit}. The first code is ours.
CONVERSIONS: dict[str, dict[str, float]] = {
    "TSH": {"m[IU]/L": 1.0, "u[IU]/mL": 1.0, "[iU]/L": 1000.0, "m[IU]/mL": 1000.0},
    "T3": {**MOLAR["T3"], **MASS["T3"]},
    "TT4": {**MOLAR["TT4"], **MASS["TT4"]},
    "T4U": {"1": 1.0, "{ratio}": 1.0},
    # FTI = TT4/T4U (DOMAIN.md): nmol/L-equivalent; the US 1-5 convention is not convertible.
    "FTI": {"nmol/L": 1.0},
    "TBG": {"mg/L": 1.0, "ug/mL": 1.0, "mg/dL": 10.0, "ug/L": 0.001},
    "FT4": {**MOLAR["FT4"], **MASS["FT4"]},
    "FT3": {**MOLAR["FT3"], **MASS["FT3"]},
    "age": {"a": 1.0, "mo": 1 / 12},
}
# How a unit is written for people (messages, the form's select) where the UCUM code reads oddly.
DISPLAY = {"m[IU]/L": "mU/L", "u[IU]/mL": "µIU/mL", "[iU]/L": "IU/L", "m[IU]/mL": "mU/mL", "1": "ratio"}


def our_unit(field: str) -> str:
    """The UCUM code of the unit ThyroWeb stores a field in."""
    return next(iter(CONVERSIONS[field]))


def display(code: str) -> str:
    return DISPLAY.get(code, code)


def _folded(text: str) -> str:
    """A spelling reduced to compare: micro as u, French UI as IU, IU as U, no brackets, lower case."""
    text = text.strip().replace("mcg", "ug").replace("µ", "u").replace("μ", "u")
    text = text.replace("UI", "IU").replace("[", "").replace("]", "").replace("{", "").replace("}", "")
    return text.lower().replace("iu", "u").replace(" ", "")


def ucum_code(field: str, text: str | None) -> str | None:
    """The UCUM code a unit written for this field means (None when unknown or ambiguous)."""
    table = CONVERSIONS.get(field, {})
    if text is None:
        return None
    text = text.strip()
    if text in table:
        return text
    folded = _folded(text)
    matches = [code for code in table if _folded(code) == folded or _folded(display(code)) == folded]
    if matches and len({table[code] for code in matches}) == 1:  # several codes of one factor: the first
        return matches[0]
    return None


def accepted(field: str) -> list[str]:
    """The units a field can be sent in (UCUM codes), ours first."""
    return list(CONVERSIONS[field])


def _test_name(field: str) -> str:
    test = LAB_TESTS.get(field)
    if test is None:
        return field
    label = test.label
    return label[0].lower() + label[1:] if label[1:2].islower() else label


def factor(field: str, unit: str | None) -> float:
    """The factor from a unit (UCUM code or a common spelling; None = ours) to ThyroWeb's unit for the field.

    Raises InputError naming the field and the unit when the unit is not one of the field's."""
    if unit is None or (isinstance(unit, str) and not unit.strip()):
        return 1.0
    code = ucum_code(field, unit) if isinstance(unit, str) else None
    if code is None:
        raise InputError(
            field,
            f"{field}: unit {unit!r} is not a unit of {_test_name(field)}; use one of {', '.join(accepted(field))}",
        )
    return CONVERSIONS[field][code]


def to_ours(field: str, value: float, unit: str | None) -> float:
    """A value sent in ``unit`` in ThyroWeb's unit (rounded to 6 decimals, as the FHIR import always did)."""
    return round(float(value) * factor(field, unit), 6)


def from_ours(field: str, value: float, unit: str) -> float:
    """A value in ThyroWeb's unit expressed in another unit of the field."""
    return float(value) / factor(field, unit)


def convert_input(field: str, value, unit: str | None) -> tuple[object, dict | None]:
    """(the value in ThyroWeb's unit, ``{"value", "unit"}`` as received) for one field's input.

    ``value`` is a number or text as a form or CSV cell has it ("8.2", "<0.005": the bound keeps its
    sign); text that is no number, and an empty value, come back as they are (validation names them).
    A unit that is not the field's raises InputError."""
    if unit is None or (isinstance(unit, str) and not unit.strip()):
        return value, None
    scale = factor(field, unit)
    sign, number = "", value
    if isinstance(value, str):
        text = value.strip()
        sign = text[:1] if text[:1] in "<>" else ""
        try:
            number = float(text[len(sign) :].lstrip("=").strip())
        except ValueError:
            return value, None
    if number is None or isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
        return value, None
    received = {"value": number, "unit": unit.strip()}
    converted = round(float(number) * scale, 6)
    return (f"{sign}{converted!r}" if isinstance(value, str) else converted), received


def convert_panel(raw: Mapping, panel_units: Mapping[str, str | None]) -> tuple[dict, dict, list[InputError]]:
    """A panel's inputs with every value that came with a unit in ThyroWeb's unit: (values, received, errors).

    ``received`` keeps each such value and its unit as sent; ``errors`` names each field whose unit is
    not one of its own. The form, the API and CSV files use this; the FHIR import converts per
    Observation with the same table."""
    values, received, errors = dict(raw), {}, []
    for name, unit in panel_units.items():
        if name not in values:
            continue
        try:
            values[name], given = convert_input(name, values[name], unit)
        except InputError as error:
            errors.append(error)
            continue
        if given is not None:
            received[name] = given
    return values, received, errors


def parse_site_units(text: str) -> dict[str, str]:
    """``"TSH=uIU/mL,TT4=ug/dL"`` as {field: UCUM code}: the units a site's form offers first. A field not
    named keeps ThyroWeb's unit. Raises ValueError naming the part that is not a field=unit pair."""
    chosen: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, sep, unit = (piece.strip() for piece in part.partition("="))
        if not sep or name not in LAB_TESTS:
            raise ValueError(f"{part!r} is not FIELD=unit with FIELD one of {', '.join(LAB_TESTS)}")
        code = ucum_code(name, unit)
        if code is None:
            raise ValueError(f"{name}: unit {unit!r} is not one of {', '.join(accepted(name))}")
        chosen[name] = code
    return chosen
