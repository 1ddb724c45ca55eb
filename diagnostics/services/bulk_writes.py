"""Bulk writes of patients, lab panels and predictions: CSV scoring jobs, the UCI import, the set-up scoring
(stored panels scored in bulk by the one scoring path, services/intake.py).

On PostgreSQL rows go in with COPY, several times faster than ``bulk_create`` for 10^5 rows; elsewhere (the
embedded SQLite default) with ``bulk_create``. Rows are tuples of the values of named fields; the other
fields get the model's default. Constraints (unique, check, foreign keys) are enforced by the database as
with any insert, and errors are Django's (IntegrityError...): a COPY that meets a row already stored fails
whole, and the caller writes again ``fast=False``, skipping what exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, models, transaction
from django.utils import timezone

from diagnostics.models import PANEL_VALUE_FIELDS, LabPanel, ModelVersion, Patient, Prediction
from diagnostics.services.audit import record_event
from diagnostics.services.intake import prediction_fields, score_panels
from diagnostics.services.registry import active_model_version, load_predictor
from mlcore.intake import Panel
from mlcore.predictor import PredictionResult


def copy_available() -> bool:
    """Whether this database takes COPY (PostgreSQL)."""
    return connection.vendor == "postgresql"


def _default(field: models.Field, now):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        value = field.get_default()
    elif field.null:
        value = None
    elif field.empty_strings_allowed:
        value = ""
    else:
        raise ValueError(f"{field.model.__name__}.{field.attname} has no default: give its value")
    return json.dumps(value) if isinstance(field, models.JSONField) else value


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple], *, with_ids: bool = False
) -> list[int]:
    """Insert rows (tuples of the ``columns`` attnames) with PostgreSQL's COPY.

    with_ids: take ids from the table's sequence first and return them in row order.
    """
    if not rows:
        return []
    meta = model._meta
    named = [meta.get_field(name) for name in columns]
    others = [f for f in meta.concrete_fields if f not in named and f is not meta.pk]
    now = timezone.now()
    extras = tuple(_default(f, now) for f in others)
    json_positions = [i for i, f in enumerate(named) if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    fields = ([meta.pk] if with_ids else []) + named + others
    statement = f"COPY {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    with connection.cursor() as cursor:
        ids: list[int] = []
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        # The psycopg cursor itself, under Django's wrapper so that errors are Django's.
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            for index, row in enumerate(rows):
                if json_positions:  # JSON as text, which the server parses: several times cheaper than Jsonb
                    row = list(row)
                    for i in json_positions:  # None in a nullable JSON column is SQL NULL, as bulk_create writes it
                        row[i] = None if row[i] is None and named[i].null else json.dumps(row[i])
                    row = tuple(row)
                copy.write_row(((ids[index],) if with_ids else ()) + row + extras)
    return ids


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple], *, fast: bool, ignore_conflicts=False
) -> list[int]:
    """Insert rows (tuples of the columns' values); their new ids in order (none when conflicts are ignored).

    fast: COPY (PostgreSQL), where a conflict is an IntegrityError for the caller to handle."""
    if fast:
        return copy_rows(model, columns, rows, with_ids=not ignore_conflicts)
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=ignore_conflicts)
    return [obj.pk for obj in objects]


def patient_ids(wanted: Sequence[tuple[str, str]], *, new: Iterable[str] = (), fast: bool) -> tuple[list[int], int]:
    """Patient ids for (record number, sex) pairs, in order: existing patients by record number, the others
    created with the first sex given for them. Returns (ids, patients created).

    ``new``: record numbers known to be new (generated for a job's lines), not looked up when ``fast``: a
    fast write runs once or is rolled back whole, so nobody can have created them meanwhile.
    """
    numbers = [number for number, _ in wanted]
    skipped = set(new) if fast else set()
    lookup = {number for number in numbers if number not in skipped}
    ids = dict(Patient.objects.filter(record_number__in=lookup).values_list("record_number", "id")) if lookup else {}
    missing: dict[str, str] = {}
    for number, sex in wanted:
        if number not in ids:
            missing.setdefault(number, sex or "")
    if missing:
        # In one order (by number), so that two writers creating the same patients wait rather than deadlock.
        rows = sorted(missing.items())
        columns = ("record_number", "sex")
        if fast:
            ids.update(zip((n for n, _ in rows), insert_rows(Patient, columns, rows, fast=True), strict=True))
        else:
            insert_rows(Patient, columns, rows, fast=False, ignore_conflicts=True)
            ids.update(Patient.objects.filter(record_number__in=missing).values_list("record_number", "id"))
    return [ids[number] for number in numbers], len(missing)


@dataclass
class PanelRow:
    """One lab panel to write: its patient, its values (PANEL_VALUE_FIELDS) and where it came from."""

    patient_id: int
    values: dict
    source: str
    source_ref: str
    collected_at: datetime
    diagnosis_raw: str = ""
    diagnosis_class: str = ""
    received: dict = field(default_factory=dict)
    created_by_id: int | None = None


PANEL_COLUMNS = (
    "patient_id",
    "collected_at",
    "source",
    "source_ref",
    "diagnosis_raw",
    "diagnosis_class",
    "created_by_id",
    "created_at",
    "received",
    *PANEL_VALUE_FIELDS,
)


def write_panels(rows: Sequence[PanelRow], *, fast: bool) -> list[int]:
    """Insert lab panels; their ids in order."""
    now = timezone.now()
    tuples = [
        (
            row.patient_id,
            row.collected_at,
            row.source,
            row.source_ref,
            row.diagnosis_raw,
            row.diagnosis_class,
            row.created_by_id,
            now,
            row.received,
            *(row.values[name] for name in PANEL_VALUE_FIELDS),
        )
        for row in rows
    ]
    return insert_rows(LabPanel, PANEL_COLUMNS, tuples, fast=fast)


def stored_panel_refs(source: str, refs: Iterable[str]) -> dict[str, int]:
    """{source_ref: panel id} of the panels of this source already stored."""
    return dict(LabPanel.objects.filter(source=source, source_ref__in=list(refs)).values_list("source_ref", "id"))


_SCORED_FIELDS = tuple(prediction_fields(PredictionResult(None, None, False)))
PREDICTION_COLUMNS = ("panel_id", "model_version_id", "requested_by_id", "created_at", *_SCORED_FIELDS)


def write_predictions(
    panel_ids: Sequence[int],
    results: Sequence[PredictionResult],
    *,
    version: ModelVersion,
    requested_by_id: int | None = None,
    fast: bool,
) -> None:
    """Insert one prediction per panel (a panel already scored by the version is skipped)."""
    now = timezone.now()
    rows = []
    for panel_id, result in zip(panel_ids, results, strict=True):
        scored = prediction_fields(result)
        rows.append((panel_id, version.pk, requested_by_id, now, *(scored[name] for name in _SCORED_FIELDS)))
    insert_rows(Prediction, PREDICTION_COLUMNS, rows, fast=fast, ignore_conflicts=True)


def score_stored_panels(*, version: ModelVersion | None = None, chunk_rows: int = 5000) -> int:
    """Score, in bulk and without explanations, every visible panel that the version (default: active) has
    not scored yet (after a UCI import, at set-up). Idempotent; returns the number of predictions stored."""
    version = version or active_model_version()
    predictor = load_predictor(version)
    unscored = (
        LabPanel.objects.filter(patient__deleted_at__isnull=True)
        .exclude(predictions__model_version=version)
        .order_by("id")
        .values("id", "received", "patient__sex", *PANEL_VALUE_FIELDS)
    )
    rows = list(unscored)
    for start in range(0, len(rows), chunk_rows):
        part = rows[start : start + chunk_rows]
        panels = [
            Panel({**{name: row[name] for name in PANEL_VALUE_FIELDS}, "sex": row["patient__sex"] or None},
                  row["received"] or {})
            for row in part
        ]  # fmt: skip
        results, _ = score_panels(panels, version=version, predictor=predictor)
        with transaction.atomic():
            write_predictions([row["id"] for row in part], results, version=version, fast=False)
    if rows:
        record_event(action="prediction.bulk_stored_panels", object_type="prediction", count=len(rows),
                     model_version=version.version)  # fmt: skip
    return len(rows)
