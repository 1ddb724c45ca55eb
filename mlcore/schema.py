"""The input schema: fields, units, plausible ranges, validation and the class label.

The one place where ranges and units live; forms, serializers, importers and
the model all use it. Ranges and reference intervals come from DOMAIN.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

CLASSES = ("normal", "hyperthyroid", "hypothyroid")


@dataclass(frozen=True)
class LabTest:
    """One thyroid function test: its unit, plausible range, warning range and reference interval."""

    name: str
    label: str
    unit: str
    plausible_min: float
    plausible_max: float
    warn_min: float | None
    warn_max: float | None
    reference_low: float
    reference_high: float

    def level(self, value: float, interval: tuple[float | None, float | None] | None = None) -> str:
        """``"low"``, ``"normal"`` or ``"high"``: the value against ``interval`` (low, high; either end may be
        None, as a laboratory's range may be open), by default this test's reference interval."""
        low, high = interval if interval is not None else (self.reference_low, self.reference_high)
        if low is not None and value < low:
            return "low"
        if high is not None and value > high:
            return "high"
        return "normal"


# Ordered: the Garvan tests in the order of the UCI file, then the free hormones; the order of INPUT_FIELDS.
LAB_TESTS: dict[str, LabTest] = {
    "TSH": LabTest("TSH", "TSH", "mU/L", 0.0, 1000.0, None, None, 0.27, 4.2),
    "T3": LabTest("T3", "Total T3", "nmol/L", 0.0, 20.0, 0.05, 8.5, 1.1, 2.8),
    "TT4": LabTest("TT4", "Total T4", "nmol/L", 0.0, 700.0, 3.7, 363.0, 64.0, 144.0),
    "T4U": LabTest("T4U", "T4 uptake", "", 0.05, 5.0, 0.29, 2.0, 0.8, 1.3),
    # FTI = TT4 / T4U, hence in nmol/L-equivalent units (not the US 1-5 convention).
    "FTI": LabTest("FTI", "Free thyroxine index", "nmol/L", 0.0, 1000.0, None, None, 70.0, 155.0),
    "TBG": LabTest("TBG", "TBG", "mg/L", 0.0, 300.0, None, None, 11.0, 27.0),
    # Free hormones, as most laboratories report them today (French T4L, T3L); not in the Garvan data, so
    # no data percentiles to warn outside. Reference intervals: DOMAIN.md. Plausible maxima (a proposal, as
    # DOMAIN.md's input validation): FT4 150 and FT3 50 pmol/L, about seven times the upper reference
    # limit; a value beyond is an entry or unit error rather than a result.
    "FT4": LabTest("FT4", "Free T4", "pmol/L", 0.0, 150.0, None, None, 12.0, 22.0),
    "FT3": LabTest("FT3", "Free T3", "pmol/L", 0.0, 50.0, None, None, 3.1, 6.8),
}
# The six tests of the Garvan data (the UCI file's columns), in file order.
GARVAN_LABS = ("TSH", "T3", "TT4", "T4U", "FTI", "TBG")

HISTORY_FLAGS = (
    "on_thyroxine",
    "query_on_thyroxine",
    "on_antithyroid_medication",
    "sick",
    "pregnant",
    "thyroid_surgery",
    "I131_treatment",
    "query_hypothyroid",
    "query_hyperthyroid",
    "lithium",
    "goitre",
    "tumor",
    "hypopituitary",
    "psych",
)

REFERRAL_SOURCES = ("WEST", "STMW", "SVHC", "SVI", "SVHD", "other")
SEXES = ("F", "M")
AGE_MIN, AGE_MAX = 0, 120

INPUT_FIELDS = ("age", "sex", *HISTORY_FLAGS, *LAB_TESTS, "referral_source")

# Spellings that mean "not given" in forms, CSV files and the UCI archive.
_MISSING = ("", "?")
_TRUE = ("t", "true", "1", "yes", "y")
_FALSE = ("f", "false", "0", "no", "n")


class InputError(ValueError):
    """A problem with one input field; ``str(error)`` is a message a clinician can act on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __reduce__(self):
        # Keep the exception picklable (Celery sends exceptions between processes).
        return (type(self), (self.field, self.message))


def _fmt(value: float) -> str:
    return f"{value:g}"


def _with_unit(value: float, unit: str) -> str:
    return f"{_fmt(value)} {unit}" if unit else _fmt(value)


def _range_of(field: str) -> tuple[float, float, str]:
    if field == "age":
        return float(AGE_MIN), float(AGE_MAX), "years"
    if field in LAB_TESTS:
        test = LAB_TESTS[field]
        return test.plausible_min, test.plausible_max, test.unit
    raise InputError(field, f"{field} is not a numeric field")


def check_value(field: str, value) -> None:
    """Raise InputError if a numeric value (age or a lab test) is outside its plausible range."""
    if value is None:
        return
    low, high, unit = _range_of(field)
    value = float(value)
    if not math.isfinite(value):
        raise InputError(field, f"{field} {value} is not a finite number")
    if value < low:
        if low == 0:
            raise InputError(
                field,
                f"{field} {_with_unit(value, unit)} is negative; it must be at least 0",
            )
        raise InputError(
            field,
            f"{field} {_with_unit(value, unit)} is below the plausible minimum {_with_unit(low, unit)}",
        )
    if value > high:
        raise InputError(
            field,
            f"{field} {_with_unit(value, unit)} is above the plausible maximum {_with_unit(high, unit)}"
            + _unit_hint(field, value),
        )


def _unit_hint(field: str, value: float) -> str:
    """ "; it looks like ng/dL: x 0.01536 = 2 nmol/L" when a value fits another common unit."""
    from mlcore.rules import unit_suspicion  # the rules module reads this schema: import late

    reason = unit_suspicion(field, value)
    if reason is None:
        return ""
    p = reason.params
    return f"; it looks like {p['suspected_unit']}: x {p['factor']:g} = {_with_unit(p['converted'], p['unit'])}"


def check_has_lab_value(clean: Mapping[str, object]) -> None:
    """Refuse a panel with no lab value at all: there is nothing to assess (TSH is the one required)."""
    if all(clean.get(name) is None for name in LAB_TESTS):
        raise InputError(
            "labs",
            f"enter at least one lab value ({', '.join(LAB_TESTS)}); TSH is needed for an assessment",
        )


def _unwrap(value):
    # numpy and pandas scalars (np.float64, np.bool_) behave as their Python values.
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in _MISSING
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas.NA and pandas.NaT, recognised without importing pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _parse_number(field: str, value) -> float | None:
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        raise InputError(field, f"{field} {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        # Results such as "<0.005" or ">100" are accepted as their bound.
        if text[:1] in "<>":
            text = text[1:].lstrip("=").strip()
        try:
            number = float(text)
        except ValueError:
            raise InputError(field, f"{field} {value!r} is not a number") from None
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(field, f"{field} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(field, f"{field} {value!r} is not a finite number")
    check_value(field, number)
    return number


def _parse_flag(field: str, value) -> bool:
    if _is_missing(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise InputError(field, f"{field} {value!r} is not a yes/no value (use t/f, true/false or 0/1)")


def _parse_sex(value) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str) and value.strip().upper() in SEXES:
        return value.strip().upper()
    raise InputError("sex", f"sex {value!r} is not one of F, M (or empty if unknown)")


def _parse_referral(value) -> str:
    if _is_missing(value):
        return "other"
    if isinstance(value, str):
        text = value.strip()
        for source in REFERRAL_SOURCES:
            if text.upper() == source.upper():
                return source
    raise InputError(
        "referral_source",
        f"referral_source {value!r} is not one of {', '.join(REFERRAL_SOURCES)}",
    )


# Exact texts of a yes/no field answered by one lookup (anything else takes the full parse below).
_FLAG_TEXTS = {
    **{text: False for text in _MISSING},
    **{variant: True for text in _TRUE for variant in (text, text.upper(), text.capitalize())},
    **{variant: False for text in _FALSE for variant in (text, text.upper(), text.capitalize())},
}
_FLAG_FIELDS = frozenset(HISTORY_FLAGS)


def _parse_field(field: str, value):
    if type(value) is str:  # fast paths for the common texts of a CSV file; same results as the full parse
        if field in _FLAG_FIELDS:
            flag = _FLAG_TEXTS.get(value)
            if flag is not None:
                return flag
        elif field in LAB_TESTS or field == "age":
            try:
                number = float(value)
            except ValueError:
                pass  # "<0.005", "?", "": the full parse
            else:
                if math.isfinite(number):
                    check_value(field, number)
                    return number
    value = _unwrap(value)
    if field == "age":
        return _parse_number("age", value)
    if field == "sex":
        return _parse_sex(value)
    if field == "referral_source":
        return _parse_referral(value)
    if field in LAB_TESTS:
        return _parse_number(field, value)
    return _parse_flag(field, value)


def validate_panel_all(
    raw: Mapping[str, object], *, allow_unknown: bool = False
) -> tuple[dict | None, list[InputError]]:
    """Validate a panel and collect every problem: (clean dict, []) or (None, errors)."""
    errors: list[InputError] = []
    if not allow_unknown:
        for key in raw:
            if key not in INPUT_FIELDS:
                errors.append(InputError(str(key), f"unknown field {key!r}"))
    clean: dict = {}
    for field in INPUT_FIELDS:
        try:
            clean[field] = _parse_field(field, raw.get(field))
        except InputError as error:
            errors.append(error)
    if errors:
        return None, errors
    return clean, []


def validate_panel(raw: Mapping[str, object], *, allow_unknown: bool = False) -> dict:
    """Return a clean panel with every INPUT_FIELDS key, or raise InputError for the first problem."""
    clean, errors = validate_panel_all(raw, allow_unknown=allow_unknown)
    if errors:
        raise errors[0]
    return clean


def label_from_diagnosis(diagnosis: str) -> str:
    """Map a Garvan diagnosis string to "normal", "hyperthyroid", "hypothyroid" or "other"."""
    text = (diagnosis or "").strip()
    if "|" in text:
        # "X|Y" reads "consistent with X, but more likely Y".
        text = text.rsplit("|", 1)[1].strip()
    if text == "-":
        return "normal"
    if any(letter in "ABCD" for letter in text):
        return "hyperthyroid"
    if any(letter in "EFGH" for letter in text):
        return "hypothyroid"
    return "other"
