"""Monitoring refresh over many stored predictions in PostgreSQL (target: under 10 s for 1,000,000).

    DATABASE_URL=postgres://.../thyroweb_bench SECRET_KEY=... THYROWEB_DATA_DIR=... \\
        .venv/bin/python bench/monitoring.py [--predictions 1000000] [--reviews 5000] [--keep]

Inserts, with INSERT ... SELECT over generate_series (no row passes through Python), a bench model
version with --predictions panels and predictions spread over the last year (lab values drawn around
the Garvan normal medians, some missing; outcomes and classes in clinic-like shares) and --reviews
reviews, then times refresh_monitoring (the daily task's work: figures by week and by month, drift
bins and agreement, all SQL aggregates) twice and the review worklist's first page, and prints the
figures. Everything it stored is deleted
at the end unless --keep. Uses the database of the environment: run it against a bench database
(migrated by this script).
"""

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402

from diagnostics.models import LabPanel, ModelVersion, MonitoringSnapshot, PanelReview, Patient, Prediction  # noqa: E402
from diagnostics.services.monitoring import refresh_monitoring, store_input_reference  # noqa: E402
from diagnostics.services.review_queue import PER_PAGE, worklist  # noqa: E402
from mlcore.data import read_uci  # noqa: E402

PATIENTS = 10_000


def normal(mean: float, sd: float) -> str:
    """SQL for a normally distributed value (Box-Muller)."""
    return f"({mean} + {sd} * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"


def clamp(expression: str, low: float, high: float, missing: float) -> str:
    return f"CASE WHEN random() < {missing} THEN NULL ELSE least(greatest({expression}, {low}), {high}) END"


# Lab values around the Garvan normal records' medians (docs/clinical-facts.md), within the plausible ranges.
LAB_SQL = {
    "TSH": clamp(f"exp({normal(0.26, 1.0)})", 0.005, 500, 0.10),
    "T3": clamp(normal(2.0, 0.5), 0.05, 18, 0.20),
    "TT4": clamp(normal(104, 22), 2, 600, 0.05),
    "T4U": clamp(normal(0.96, 0.15), 0.17, 2.3, 0.10),
    "FTI": clamp(normal(109, 22), 1.4, 880, 0.10),
    "TBG": clamp(normal(23, 6), 0.1, 200, 0.96),
}


def column_values(model, given: dict[str, str]) -> tuple[list[str], list[str]]:
    """Column names and SQL expressions for an INSERT ... SELECT: the given ones, and for the others
    their model default (false, '', now(), an empty JSON list) or NULL."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in given:
            values.append(given[field.name])
        elif field.null:
            values.append("NULL")
        elif isinstance(field, models.BooleanField):
            values.append("false")
        elif isinstance(field, models.JSONField):
            values.append("'[]'::jsonb" if field.default is list else "'{}'::jsonb")
        elif isinstance(field, models.DateTimeField):
            values.append("now()")
        elif isinstance(field, (models.FloatField, models.IntegerField)):
            values.append(str(field.default if field.has_default() else 0))
        else:
            values.append(f"'{field.default}'" if field.has_default() and isinstance(field.default, str) else "''")
    return columns, values


def insert_select(model, given: dict[str, str], source: str) -> int:
    columns, values = column_values(model, given)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}")
        return cursor.rowcount


def fill(tag: str, predictions: int, reviews: int) -> ModelVersion:
    version = ModelVersion.objects.create(version=f"bench-monitoring-{tag}", artefact_path="unused", status="retired")
    with transaction.atomic():
        insert_select(
            Patient,
            {"record_number": f"'BENCH-{tag}-' || g", "sex": "CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END"},
            f"FROM generate_series(1, {PATIENTS}) AS g",
        )
        first = Patient.objects.filter(record_number__startswith=f"BENCH-{tag}-").order_by("id").first().pk
        insert_select(
            LabPanel,
            {
                "patient": f"{first} + g % {PATIENTS}",
                "age": "18 + 70 * random()",
                "referral_source": "'other'",
                "source": "'form'",
                **LAB_SQL,
            },
            f"FROM generate_series(1, {predictions}) AS g",
        )
        # Outcomes: 85 % assessed, 12 % refer, 3 % not assessed; classes 88 / 5 / 7 %.
        u = "(('x' || substr(md5(id::text), 1, 8))::bit(32)::bigint / 4294967296.0)"
        klass = f"CASE WHEN {u} < 0.88 THEN 'normal' WHEN {u} < 0.93 THEN 'hyperthyroid' ELSE 'hypothyroid' END"
        outcome = "CASE WHEN id % 100 < 85 THEN 'assessed' WHEN id % 100 < 97 THEN 'refer' ELSE 'not_assessed' END"
        assessed = "id % 100 < 97"
        insert_select(
            Prediction,
            {
                "panel": "id",
                "model_version": str(version.pk),
                "outcome": outcome,
                "predicted_class": f"CASE WHEN {assessed} THEN {klass} ELSE '' END",
                "p_normal": f"CASE WHEN {assessed} THEN 0.8 END",
                "p_hyperthyroid": f"CASE WHEN {assessed} THEN 0.1 END",
                "p_hypothyroid": f"CASE WHEN {assessed} THEN 0.1 END",
                "uncertain": "id % 100 >= 85",
                "created_at": "now() - random() * interval '365 days'",
            },
            f"FROM {LabPanel._meta.db_table} WHERE patient_id >= {first} AND patient_id < {first + PATIENTS}",
        )
        diagnoses = "(ARRAY['normal','hyperthyroid','hypothyroid','subclinical_hypothyroid','other_thyroid'])"
        insert_select(
            PanelReview,
            {"panel": "id", "agrees": "false", "diagnosis": f"{diagnoses}[1 + id % 5]", "comment": "''"},
            f"FROM {LabPanel._meta.db_table} WHERE patient_id >= {first} AND patient_id < {first + PATIENTS} "
            f"ORDER BY id LIMIT {reviews}",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # The drift baseline: the dev data's training rows, as for the shipped model.
    data_file = Path(settings.THYROWEB_DATA_DIR) / "thyroid0387-dev.data"
    if not data_file.exists():
        raise SystemExit(f"{data_file} is missing: set THYROWEB_DATA_DIR")
    store_input_reference(version, read_uci(data_file).records, source=data_file.name)
    return version


def clean(version: ModelVersion, tag: str) -> None:
    patients = Patient.objects.filter(record_number__startswith=f"BENCH-{tag}-")
    with transaction.atomic():
        MonitoringSnapshot.objects.filter(model_version=version).delete()
        PanelReview.objects.filter(panel__patient__in=patients)._raw_delete(connection.alias)
        Prediction.objects.filter(model_version=version)._raw_delete(connection.alias)
        LabPanel.objects.filter(patient__in=patients)._raw_delete(connection.alias)
        patients._raw_delete(connection.alias)
        version.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the bench rows (to look at the page)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (a bench one).")
    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    version = fill(tag, args.predictions, args.reviews)
    print(
        f"stored {args.predictions:,} panels and predictions, {args.reviews:,} reviews "
        f"in {time.perf_counter() - started:.1f} s (INSERT ... SELECT generate_series)"
    )
    try:
        for attempt in ("first", "second"):
            started = time.perf_counter()
            snapshots = refresh_monitoring(version=version)
            seconds = time.perf_counter() - started
            week = next(s for s in snapshots if s.period == "week").figures
            scored = sum(p["panels"] for p in week["periods"])
            print(
                f"refresh ({attempt}): {seconds:.2f} s for {args.predictions:,} predictions "
                f"(weekly and monthly figures, {len(week['periods'])} weeks holding {scored:,}; "
                f"agreement over {week['agreement']['reviews']:,} reviews)"
            )
        print(f"target < 10 s: {'met' if seconds < 10 else 'NOT met'}")
        for filters in ({}, {"predicted_class": "hyperthyroid"}, {"reason": "refer"}):
            started = time.perf_counter()
            page = Paginator(worklist(**filters), PER_PAGE).get_page(1)
            count, _ = page.paginator.count, list(page)
            print(
                f"review worklist {filters or 'unfiltered'}: first page of {count:,} items in "
                f"{time.perf_counter() - started:.2f} s"
            )
    finally:
        if not args.keep:
            clean(version, tag)


if __name__ == "__main__":
    main()
