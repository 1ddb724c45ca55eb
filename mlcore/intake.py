"""The one intake: a panel's raw input, from any way in, as a clean panel, the values as received, and errors.

Every way a panel comes in (the lab form, the API, CSV and Excel files, FHIR bundles, HL7 v2 messages,
CDS Hooks requests) reads its own format into one plain mapping and hands it to :func:`take_panel`; nothing
else converts units, reads result qualifiers or validates ranges. A lab value may be given as

- a number, in ThyroWeb's unit (``mlcore.schema.LAB_TESTS``) unless ``units`` names the unit it is in;
- text as a form, a CSV cell or an HL7 OBX-5 has it: ``"8.2"``, ``"8,2"`` (a decimal comma: lab values
  never carry thousands separators), ``"<0.005"``, ``">100"``, ``"<= 0,01"``;
- a mapping ``{"value", "unit", "qualifier", "reference"}``: a value with its unit (UCUM code or a usual
  spelling, ``mlcore.units``), its qualifier (``<``, ``>``, ``<=``, ``>=``; FHIR's ``comparator``) and the
  reference range the laboratory sent with it (``[low, high]`` in the same unit; either end may be None).

A value sent as ``<0.005`` is read as its bound, 0.005, and keeps its qualifier: a result below the
assay's limit is not the same finding as a measured 0.005 (docs/clinical-facts.md, "Plausible ranges and
warnings": accept them as the bound, flagged). The panel's ``received`` keeps, for each value sent with a unit, a
qualifier or a reference range, what was sent; its ``intervals`` are those ranges in ThyroWeb's units.

Errors name the field and the problem (``InputError``); a panel with no lab value is refused under
``labs``. Nothing here knows of Django: the diagnostics app records and scores the clean panel
(``diagnostics.services.intake``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlcore import units as unit_table
from mlcore.schema import INPUT_FIELDS, LAB_TESTS, InputError, check_has_lab_value, validate_panel_all

QUALIFIERS = ("<", ">", "<=", ">=")
_QUALIFIER_SPELLINGS = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_VALUE_KEYS = frozenset(("value", "unit", "qualifier", "comparator", "reference"))


@dataclass
class Panel:
    """A clean panel: ``values`` has every ``INPUT_FIELDS`` key (labs in ThyroWeb's units, None = not
    measured), as ``mlcore.schema.validate_panel`` returns it; ``received`` keeps, per lab, what was sent
    when it came with a unit, a qualifier or a reference range: ``{"value", "unit", "qualifier",
    "reference"}`` (absent keys: not sent)."""

    values: dict
    received: dict[str, dict] = field(default_factory=dict)

    @property
    def qualifiers(self) -> dict[str, str]:
        """``{lab: "<" | ">" | "<=" | ">="}`` for the censored values."""
        return {name: sent["qualifier"] for name, sent in self.received.items() if sent.get("qualifier")}

    @property
    def intervals(self) -> dict[str, tuple[float | None, float | None]]:
        """The reference ranges sent with values, in ThyroWeb's units: ``{lab: (low, high)}``."""
        out: dict[str, tuple[float | None, float | None]] = {}
        for name, sent in self.received.items():
            reference = sent.get("reference")
            if reference:
                scale = unit_table.factor(name, sent.get("unit"))
                low, high = (None if end is None else round(end * scale, 6) for end in reference)
                out[name] = (low, high)
        return out

    def record(self) -> dict:
        """What the Predictor reads: the values, with ``qualifiers`` and ``intervals`` when there are any."""
        record = dict(self.values)
        if self.received:
            qualifiers, intervals = self.qualifiers, self.intervals
            if qualifiers:
                record["qualifiers"] = qualifiers
            if intervals:
                record["intervals"] = intervals
        return record


@dataclass
class Intake:
    """The result of :func:`take_panel`: a panel, or the errors (every field's problems, none skipped)."""

    panel: Panel | None
    errors: list[InputError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.panel is not None

    def error_map(self) -> dict[str, list[str]]:
        """``{field: [messages]}``, the shape of the API's 400 body and of a form's field errors."""
        out: dict[str, list[str]] = {}
        for error in self.errors:
            out.setdefault(error.field, []).append(error.message)
        return out


# Longest first, so that "<=" is read before "<".
_SPELLINGS_LONGEST_FIRST = tuple(sorted(_QUALIFIER_SPELLINGS, key=len, reverse=True))


def split_qualifier(text: str) -> tuple[str, str]:
    """``"<= 0,01"`` -> ``("<=", "0,01")``; text with no qualifier comes back with ``""``."""
    text = text.strip()
    for spelling in _SPELLINGS_LONGEST_FIRST:
        if text.startswith(spelling):
            return _QUALIFIER_SPELLINGS[spelling], text[len(spelling) :].strip()
    return "", text


def decimal_point(text: str) -> str:
    """A decimal written with one comma (``4,5``) as ``4.5``; anything else unchanged."""
    if "," in text and "." not in text and text.count(",") == 1:
        return text.replace(",", ".")
    return text


def _read_number(name: str, value) -> tuple[object, str]:
    """(the number, or the text to let validation name, its qualifier) of one value as sent."""
    if isinstance(value, str):
        try:  # most values are plain numbers (a CSV cell, a form field): read at once
            number = float(value)
        except ValueError:
            pass
        else:
            return (number if math.isfinite(number) else value), ""
        qualifier, rest = split_qualifier(value)
        rest = decimal_point(rest)
        try:
            number = float(rest)
        except ValueError:
            return value, ""  # not a number: validation says so, with the text as sent
        return (number if math.isfinite(number) else value), qualifier
    return value, ""


def _reference(name: str, reference) -> tuple[float | None, float | None]:
    """A reference range as sent (``[low, high]``, ``(low, high)`` or text ``"0.27-4.2"``): two numbers or None."""
    if isinstance(reference, str):
        low, sep, high = reference.strip().partition("-")
        if not sep:
            raise InputError(name, f"{name} reference range {reference!r} is not low-high")
        reference = [low.strip() or None, high.strip() or None]
    if not isinstance(reference, (list, tuple)) or len(reference) != 2:
        raise InputError(name, f"{name} reference range must be [low, high]")
    ends: list[float | None] = []
    for end in reference:
        if end is None:
            ends.append(None)
            continue
        number, _ = _read_number(name, end)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise InputError(name, f"{name} reference range end {end!r} is not a number")
        ends.append(float(number))
    if ends[0] is not None and ends[1] is not None and ends[0] > ends[1]:
        raise InputError(name, f"{name} reference range {ends[0]:g}-{ends[1]:g} has its low end above its high end")
    return ends[0], ends[1]


_QUALIFIER_STARTS = frozenset(spelling[0] for spelling in _QUALIFIER_SPELLINGS)


def _plain(given) -> bool:
    """A value with nothing to read but the number: a number, or text without a qualifier or a decimal comma
    (an empty cell too). Most of a file's cells: handed as they are to the schema's validation, which reads
    the number (and names the field when the text is none)."""
    kind = type(given)
    if kind is str:
        if given and given[0].isspace():
            given = given.lstrip()
        return not given or (given[0] not in _QUALIFIER_STARTS and "," not in given)
    return kind is float or kind is int


def _take_lab(name: str, given, unit: str | None) -> tuple[object, dict | None]:
    """(value in ThyroWeb's unit or as sent for validation to name, what was sent or None). Raises InputError
    for a unit that is not the test's, a bad qualifier or a bad reference range."""
    qualifier, reference = "", None
    if isinstance(given, Mapping):
        unknown = sorted(str(key) for key in given if key not in _VALUE_KEYS)
        if unknown or "value" not in given:
            shape = f'{name} must be a number or {{"value": number, "unit": "text"}}'
            raise InputError(name, f"{shape} (unknown key: {', '.join(unknown)})" if unknown else shape)
        unit = given.get("unit", unit)
        sent_qualifier = given.get("qualifier") or given.get("comparator") or ""
        if sent_qualifier:
            qualifier = _QUALIFIER_SPELLINGS.get(str(sent_qualifier).strip(), "")
            if not qualifier:
                raise InputError(name, f"{name} qualifier {sent_qualifier!r} is not one of {', '.join(QUALIFIERS)}")
        if given.get("reference") is not None:
            reference = _reference(name, given["reference"])
        given = given["value"]
        if given is None:
            raise InputError(name, f"{name} value is missing (leave {name} out or null when not measured)")
    value, text_qualifier = _read_number(name, given)
    qualifier = qualifier or text_qualifier
    has_unit = unit is not None and not (isinstance(unit, str) and not unit.strip())
    scale = unit_table.factor(name, unit) if has_unit else 1.0  # raises for a unit that is not the test's
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value, None
    sent: dict = {}
    if has_unit or qualifier or reference:
        written = unit.strip() if isinstance(unit, str) and has_unit else unit_table.our_unit(name)
        sent = {"value": float(value), "unit": written}
        if qualifier:
            sent["qualifier"] = qualifier
        if reference:
            sent["reference"] = list(reference)
    return (round(float(value) * scale, 6) if has_unit else value), (sent or None)


def take_panel(
    raw: Mapping[str, object],
    *,
    units: Mapping[str, str | None] | None = None,
    require_lab: bool = True,
    allow_unknown: bool = False,
) -> Intake:
    """Read one panel's raw input (see the module's docstring for the forms a value may take).

    ``units``: the unit each lab's values are in when the value does not say (a CSV header's
    ``TT4[ug/dL]``, the form's unit select, a site's default). ``require_lab``: refuse a panel with no lab
    value (under ``labs``). ``allow_unknown``: ignore keys that are no input field (a file's extra
    columns) instead of refusing them."""
    units = units or {}
    if not units and _all_plain(raw):  # most panels of a file or an API call: nothing to convert or keep
        return _checked(raw, {}, [], require_lab=require_lab, allow_unknown=allow_unknown)
    values: dict = {}
    received: dict[str, dict] = {}
    errors: list[InputError] = []
    for key, given in raw.items():
        if key in LAB_TESTS and given is not None:
            if key not in units and _plain(given):
                values[key] = given  # a number in our unit, or none: the schema's validation reads it as it is
                continue
            try:
                values[key], sent = _take_lab(key, given, units.get(key))
            except InputError as error:
                errors.append(error)
                continue
            if sent is not None:
                received[key] = sent
        elif key == "age" and isinstance(given, Mapping):
            try:
                values[key], _sent = _take_lab(key, given, units.get(key))
            except InputError as error:
                errors.append(error)
        elif key == "age" and isinstance(given, str):
            values[key] = decimal_point(given.strip())
        else:
            values[key] = given
    return _checked(values, received, errors, require_lab=require_lab, allow_unknown=allow_unknown)


def _all_plain(raw: Mapping[str, object]) -> bool:
    """Whether every lab value (and the age) is plain: a number or text with nothing but a number in it."""
    for name in LAB_TESTS:
        given = raw.get(name)
        if given is not None and not _plain(given):
            return False
    age = raw.get("age")
    return not (isinstance(age, str) and "," in age) and not isinstance(age, Mapping)


def _checked(
    values: Mapping[str, object],
    received: dict[str, dict],
    errors: list[InputError],
    *,
    require_lab: bool,
    allow_unknown: bool,
) -> Intake:
    """The schema's validation of the values read (the fields already refused left out), then the lab check."""
    failed = {error.field for error in errors}
    if failed:
        values = {key: value for key, value in values.items() if key not in failed}
    clean, problems = validate_panel_all(values, allow_unknown=allow_unknown)
    errors.extend(problems)
    if clean is not None and require_lab and not errors:
        try:
            check_has_lab_value(clean)
        except InputError as error:
            errors.append(error)
    if errors or clean is None:
        return Intake(None, errors)
    return Intake(Panel(clean, {name: sent for name, sent in received.items() if clean.get(name) is not None}))


__all__ = ["INPUT_FIELDS", "QUALIFIERS", "Intake", "Panel", "decimal_point", "split_qualifier", "take_panel"]
