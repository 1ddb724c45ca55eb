"""Readers for the UCI thyroid0387 format and for plain CSV, and the train/validation/test split.

Readers never raise on a bad line: each problem becomes a RowError with the
1-based line number and a reason that names the field.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

import numpy as np

from mlcore import units as units_table
from mlcore.intake import take_panel
from mlcore.schema import (
    AGE_MAX,
    AGE_MIN,
    CLASSES,
    GARVAN_LABS,
    HISTORY_FLAGS,
    INPUT_FIELDS,
    LAB_TESTS,
    InputError,
    label_from_diagnosis,
)

# The fewest labelled rows, and classes among them, a model is trained on (the app refuses a run with fewer).
MIN_TRAINING_ROWS = 30
MIN_TRAINING_CLASSES = 2


@dataclass
class RowError:
    """A problem on one line of an input file (line 1 is the first line)."""

    line: int
    reason: str


@dataclass
class ReadResult:
    """Records read from a file, with the lines rejected (errors) and the values changed (warnings)."""

    records: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


# The 29 attributes of a thyroid0387 record, in file order.
UCI_ATTRIBUTES = (
    "age",
    "sex",
    *HISTORY_FLAGS,
    *(name for test in GARVAN_LABS for name in (f"{test} measured", test)),
    "referral_source",
)
_UCI_TAIL = re.compile(r"^(?P<diagnosis>[^\[\]]*)\[(?P<record_id>[^\[\]]+)\]\.?$")

# record_number: the patient's medical record number (a scoring file's); record_id: a Garvan record id.
CSV_OPTIONAL_COLUMNS = ("diagnosis", "record_id", "record_number", "collected_at", "FT4", "FT3")
# A column may name the unit its values are in: "TT4[ug/dL]", "TSH[mUI/L]" (mlcore.units).
_HEADER_UNIT = re.compile(r"^(?P<name>[^\[\]]+?)\s*\[(?P<unit>.+)\]$")


def _lines(source: str | os.PathLike | TextIO) -> Iterator[tuple[int, str | None]]:
    """Yield (line number, text) for each line; text is None when the line is not valid UTF-8."""
    content: str | bytes
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            content = handle.read()
    else:
        content = source.read()
    if isinstance(content, str):
        chunks: Iterable = content.split("\n")
    else:
        chunks = content.split(b"\n")
    for number, chunk in enumerate(chunks, start=1):
        if isinstance(chunk, bytes):
            if number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
        else:
            text = chunk.lstrip("\ufeff") if number == 1 else chunk
        yield number, text.rstrip("\r")


def parse_uci_line(
    line_number: int, text: str, *, require_lab: bool = False
) -> tuple[dict | None, str | None, str | None]:
    """Parse one thyroid0387 line: (record, error reason, warning reason). The values go through the one
    intake (mlcore.intake.take_panel); ``require_lab`` refuses a line without any lab value."""
    parts = [part.strip() for part in text.strip().split(",")]
    if len(parts) != len(UCI_ATTRIBUTES) + 1:
        return (
            None,
            (
                f"expected {len(UCI_ATTRIBUTES)} attributes and a diagnosis[record id], "
                f"found {len(parts)} comma-separated fields"
            ),
            None,
        )
    values = dict(zip(UCI_ATTRIBUTES, parts[:-1], strict=True))
    tail = _UCI_TAIL.match(parts[-1])
    if tail is None:
        return (
            None,
            f"diagnosis {parts[-1]!r} is not of the form diagnosis[record id]",
            None,
        )

    problems: list[str] = []
    raw = {name: values.get(name) for name in INPUT_FIELDS}  # no free hormones in the UCI format
    for name in HISTORY_FLAGS:
        if values[name] not in ("t", "f"):
            problems.append(f"{name} {values[name]!r} is not one of t, f")
            raw[name] = "f"  # reported once, here
    for test in GARVAN_LABS:
        measured = values[f"{test} measured"]
        present = values[test] != "?"
        if measured not in ("t", "f"):
            problems.append(f"{test} measured {measured!r} is not one of t, f")
        elif (measured == "t") != present:
            problems.append(f"{test} measured is {measured} but the {test} value is {values[test]!r}")

    warning = None
    try:
        age = float(raw["age"]) if raw["age"] not in ("?", None) else None
    except ValueError:
        age = None  # reported by the intake below
    if age is not None and not AGE_MIN <= age <= AGE_MAX:
        warning = f"age {raw['age']} is outside {AGE_MIN}-{AGE_MAX} years (a data error); read as unknown"
        raw["age"] = None
    intake = take_panel(raw, require_lab=require_lab and not problems)
    problems.extend(error.message for error in intake.errors)
    if problems or intake.panel is None:
        return None, "; ".join(problems), None

    diagnosis = tail.group("diagnosis").strip()
    record = dict(intake.panel.values)
    record.update(
        diagnosis=diagnosis,
        label=label_from_diagnosis(diagnosis),
        record_id=tail.group("record_id").strip(),
        line=line_number,
    )
    return record, None, warning


def collected_at_from_record_id(record_id: str) -> datetime | None:
    """Garvan record ids start with the collection date as YYMMDD (840801013 = 1984-08-01), noon UTC."""
    try:
        day = datetime.strptime(record_id[:6], "%y%m%d")
    except ValueError:
        return None
    return day.replace(hour=12, tzinfo=UTC)


def read_uci(source: str | os.PathLike | TextIO, *, require_lab: bool = False) -> ReadResult:
    """Read a file in the UCI thyroid0387 format (29 attributes, then diagnosis[record id]); ``require_lab``
    rejects the lines without any lab value (nothing to score)."""
    result = ReadResult()
    for number, text in _lines(source):
        if text is None:
            result.errors.append(RowError(number, "line is not valid UTF-8 text"))
            continue
        if not text.strip():
            continue
        record, error, warning = parse_uci_line(number, text, require_lab=require_lab)
        if error is not None or record is None:
            result.errors.append(RowError(number, error or "unreadable line"))
            continue
        if warning is not None:
            result.warnings.append(RowError(number, warning))
        result.records.append(record)
    return result


def read_csv(
    source: str | os.PathLike | TextIO,
    *,
    optional: Iterable[str] = CSV_OPTIONAL_COLUMNS,
    require_lab: bool = False,
) -> ReadResult:
    """Read a CSV whose header names every INPUT_FIELDS column but the ``optional`` ones (by default FT4, FT3,
    diagnosis, record_id, record_number and collected_at); an optional column left out reads as empty in
    every row (a history flag: not recorded, i.e. false). The header names one lab test at least. Each row's
    values go through the one intake (mlcore.intake.take_panel): a lab column may name its unit,
    ``TT4[ug/dL]``, and a cell may read ``<0.005`` or ``4,5``; what came with a unit or a qualifier is kept
    as given in the record's ``received``. ``require_lab`` rejects the rows without any lab value."""
    optional = set(optional)
    result = ReadResult()
    lines = list(_lines(source))
    undecodable = {number for number, text in lines if text is None}
    text = "\n".join("" if line is None else line for _, line in lines)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        result.errors.append(RowError(1, "the file is empty: expected a header line"))
        return result
    except csv.Error as error:
        result.errors.append(RowError(1, f"the header line is not valid CSV: {error}"))
        return result
    if 1 in undecodable:
        result.errors.append(RowError(1, "line is not valid UTF-8 text"))
        return result

    header, units, unit_errors = _header_units(header)
    known = set(INPUT_FIELDS) | set(CSV_OPTIONAL_COLUMNS) | optional
    unknown = [name for name in header if name not in known]
    missing = [name for name in INPUT_FIELDS if name not in header and name not in optional]
    if not missing and not any(name in header for name in LAB_TESTS):
        missing = [f"one lab test at least ({', '.join(LAB_TESTS)})"]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    result.errors.extend(RowError(1, message) for message in unit_errors)
    if unknown:
        result.errors.append(RowError(1, f"unknown column(s): {', '.join(unknown)}"))
    if missing:
        result.errors.append(RowError(1, f"missing required column(s): {', '.join(missing)}"))
    if duplicated:
        result.errors.append(RowError(1, f"duplicated column(s): {', '.join(duplicated)}"))
    if result.errors:
        return result

    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            result.errors.append(RowError(start, f"line is not valid CSV: {error}"))
            start = reader.line_num + 1
            continue
        number, start = start, reader.line_num + 1
        if number in undecodable:
            result.errors.append(RowError(number, "line is not valid UTF-8 text"))
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            result.errors.append(
                RowError(
                    number,
                    f"expected {len(header)} values (one per column), found {len(row)}",
                )
            )
            continue
        values = dict(zip(header, row, strict=True))
        record, reason = _csv_record(values, number, units, require_lab=require_lab)
        if reason is not None or record is None:
            result.errors.append(RowError(number, reason or "unreadable line"))
        else:
            result.records.append(record)
    return result


def _header_units(header: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """Column names without their units, {column: unit as written}, unit problems."""
    names, units, problems = [], {}, []
    for text in header:
        match = _HEADER_UNIT.match(text)
        if match is None:
            names.append(text)
            continue
        name, unit = match.group("name").strip(), match.group("unit").strip()
        names.append(name)
        if name not in units_table.CONVERSIONS:
            problems.append(f"column {text!r}: {name} takes no unit")
            continue
        try:
            units_table.factor(name, unit)
        except InputError as error:
            problems.append(error.message)
        else:
            units[name] = unit
    return names, units, problems


def _csv_record(
    values: dict[str, str], number: int, units: dict[str, str] | None = None, *, require_lab: bool = False
) -> tuple[dict | None, str | None]:
    intake = take_panel({name: values.get(name) for name in INPUT_FIELDS}, units=units, require_lab=require_lab)
    problems = [error.message for error in intake.errors]
    collected_at = (values.get("collected_at") or "").strip() or None
    if collected_at is not None:
        try:
            datetime.fromisoformat(collected_at)
        except ValueError:
            problems.append(f"collected_at {collected_at!r} is not an ISO 8601 date or date-time")
    if problems or intake.panel is None:
        return None, "; ".join(problems)
    diagnosis = (values.get("diagnosis") or "").strip() or None
    record = dict(intake.panel.values)
    record.update(
        diagnosis=diagnosis,
        label=label_from_diagnosis(diagnosis) if diagnosis is not None else None,
        record_id=(values.get("record_id") or "").strip() or None,
        record_number=(values.get("record_number") or "").strip() or None,
        collected_at=collected_at,
        line=number,
    )
    if intake.panel.received:
        record["received"] = intake.panel.received
    return record, None


def records_to_frame(records: Iterable[dict]):
    """A pandas DataFrame of records: INPUT_FIELDS columns first (labs as float, NaN = not measured)."""
    import pandas as pd  # training and evaluation only: reading a file and serving need no pandas

    frame = pd.DataFrame(list(records))
    for name in INPUT_FIELDS:
        if name not in frame.columns:
            frame[name] = pd.Series(dtype="float64" if name in LAB_TESTS or name == "age" else "object")
    for name in ("age", *LAB_TESTS):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in HISTORY_FLAGS:
        frame[name] = frame[name].fillna(False).astype(bool)
    extras = [name for name in frame.columns if name not in INPUT_FIELDS]
    return frame[[*INPUT_FIELDS, *extras]].reset_index(drop=True)


def labelled_frame(records_or_frame):
    """A DataFrame of the three-class rows only (label in CLASSES)."""
    frame = records_or_frame if hasattr(records_or_frame, "columns") else records_to_frame(records_or_frame)
    if "label" not in frame.columns:
        if "diagnosis" not in frame.columns:
            raise ValueError("training rows need a 'label' column (or a 'diagnosis' to derive it from)")
        frame = frame.assign(
            label=[label_from_diagnosis(d) if isinstance(d, str) else None for d in frame["diagnosis"]]
        )
    return frame[frame["label"].isin(CLASSES)].reset_index(drop=True)


def class_indices(labels) -> np.ndarray:
    """Class indices (positions in CLASSES) of labels."""
    return np.array([CLASSES.index(label) for label in labels], dtype=np.int64)


def split_frame(frame, *, seed: int = 0, val_size: float = 0.15, test_size: float = 0.15):
    """Train / validation / test split, stratified by "label" with a fixed seed.

    Falls back to a plain random split when a class has fewer than 5 rows (stratifying
    would fail on tiny uploads).
    """
    from sklearn.model_selection import train_test_split  # training only (scikit-learn loads in about 1 s)

    stratify = frame["label"] if frame["label"].value_counts().min() >= 5 else None
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    stratify = rest["label"] if stratify is not None else None
    train, val = train_test_split(rest, test_size=val_size / (1 - test_size), random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), val.reset_index(drop=True), test.reset_index(drop=True)
