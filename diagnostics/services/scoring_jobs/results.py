"""A scoring job's results: the CSV rows of each chunk, the preview the job page shows, the finished file.

Each chunk's rows and preview (counts per outcome and per class, its first rows) are made when the chunk
is scored; the job's file is the chunks' parts in order and its preview the chunks' previews added up, so
nothing is read back and parsed at the end.
"""

from __future__ import annotations

import csv
import io

from diagnostics.csv_safety import safe_cell
from diagnostics.models import JobStatus, ScoringJob
from diagnostics.services.scoring_jobs.rows import JobRow
from mlcore import units
from mlcore.predictor import PredictionResult
from mlcore.rules import OUTCOMES
from mlcore.schema import CLASSES, INPUT_FIELDS, LAB_TESTS

RESULT_COLUMNS = (
    "line",
    "record_number",
    *INPUT_FIELDS,
    "diagnosis",
    "collected_at",
    "predicted_class",
    *(f"p_{name}" for name in CLASSES),
    "uncertain",
    "outcome",
    "reasons",
    "warnings",
    "pattern",
)
# The results shown on the job page: the first rows, and counts over every row.
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = ("line", "record_number", *LAB_TESTS, "predicted_class", "outcome", "reasons", "warnings")
_FLAG_TEXT = {None: "", True: "true", False: "false"}


def _text(value) -> str:
    """A free-text cell (record number, diagnosis, date): a spreadsheet will not run it as a formula."""
    return "" if value is None else safe_cell(str(value))


def csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def _codes(reasons) -> str:
    """Reason or warning codes joined by ';' (the codes are mlcore's fixed words, never formulas)."""
    return ";".join(str(reason["code"]) for reason in reasons or [])


def _cells(job_id: int, row: JobRow, result: PredictionResult) -> list:
    """A results row: input columns, class, probabilities, uncertain, outcome, reason and warning codes, the
    guideline reading's code; a not-assessed row has an empty class and empty probabilities."""
    probabilities = result.probabilities or {}
    # Input values are the validated ones: numbers, flags and fixed codes, never formulas.
    inputs = [_FLAG_TEXT[value] if value is None or value is True or value is False else value
              for value in (row.values[name] for name in INPUT_FIELDS)]  # fmt: skip
    return [
        row.line,
        _text(row.patient_number(job_id)),
        *inputs,
        _text(row.diagnosis),
        _text(row.collected_at),
        result.predicted_class or "",
        *("" if probabilities.get(name) is None else round(probabilities[name], 4) for name in CLASSES),
        _FLAG_TEXT[bool(result.uncertain)],
        result.outcome,
        _codes(result.reasons),
        _codes(result.warnings),
        (result.pattern or {}).get("code", ""),
    ]


def result_rows(job_id: int, rows: list[JobRow], results: list[PredictionResult]) -> str:
    """The results CSV rows of scored rows, without the header."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row, result in zip(rows, results, strict=True):
        writer.writerow(_cells(job_id, row, result))
    return out.getvalue()


def chunk_preview(job_id: int, rows: list[JobRow], results: list[PredictionResult]) -> dict:
    """A chunk's share of the preview: counts per outcome and per predicted class (not assessed rows have no
    class: counted under "none"), and its first PREVIEW_ROWS rows as the results file has them."""
    outcomes = dict.fromkeys(OUTCOMES, 0)
    classes = {**dict.fromkeys(CLASSES, 0), "none": 0}
    for result in results:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        name = result.predicted_class or "none"
        classes[name] = classes.get(name, 0) + 1
    first = []
    for row, result in list(zip(rows, results, strict=True))[:PREVIEW_ROWS]:
        cells = dict(zip(RESULT_COLUMNS, (str(cell) for cell in _cells(job_id, row, result)), strict=True))
        first.append({column: cells[column] for column in PREVIEW_COLUMNS})
    return {"counts": {"outcome": outcomes, "predicted_class": classes}, "rows": first}


def merged_preview(previews: list[dict]) -> dict:
    """The job's preview from its chunks' previews, in chunk order."""
    counts: dict[str, dict[str, int]] = {"outcome": dict.fromkeys(OUTCOMES, 0),
                                         "predicted_class": {**dict.fromkeys(CLASSES, 0), "none": 0}}  # fmt: skip
    rows: list[dict] = []
    for preview in previews:
        for kind, table in (preview.get("counts") or {}).items():
            for key, count in table.items():
                counts[kind][key] = counts[kind].get(key, 0) + count
        rows.extend(preview.get("rows", [])[: PREVIEW_ROWS - len(rows)])
    return {"counts": counts, "rows": rows}


def result_csv_text(job: ScoringJob) -> str | None:
    """The results CSV of a succeeded job (from the file storage), or None."""
    if job.status != JobStatus.SUCCEEDED or not job.result_file:
        return None
    try:
        with job.result_file.open("rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return None


# The template's example row: values within the reference intervals of mlcore.schema.LAB_TESTS.
TEMPLATE_EXAMPLE_LABS = {"TSH": "2.1", "T3": "1.8", "TT4": "98", "T4U": "0.95", "FTI": "103", "TBG": "20",
                         "FT4": "14.5", "FT3": "4.8"}  # fmt: skip


def template_csv() -> str:
    """The downloadable CSV template: the record number and every lab test with our unit in the header, the
    optional columns after them, and one example row (valid: it scores). Only the record number and one lab
    column are needed; the others may be removed."""
    labs = [f"{name}[{units.display(units.our_unit(name))}]" for name in LAB_TESTS]
    header = ["record_number", *labs, "age", "sex", "collected_at"]
    example = ["MRN-0001", *(TEMPLATE_EXAMPLE_LABS[name] for name in LAB_TESTS), "54", "F", "2026-01-05T09:30"]
    return csv_line(header) + csv_line(example)
