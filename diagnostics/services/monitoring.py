"""Monitoring of a model version in use: what it scored, how, on which inputs, and how often clinicians agree.

Every figure is a SQL aggregate: one GROUP BY over the version's predictions
(joined to their panels) by day, with conditional counts (``Count(filter=...)``,
a CASE WHEN on SQLite) for outcomes, classes, missing labs and the drift bins;
the days are then added up into weeks and months. No prediction row is loaded
into Python.

Input drift is the population stability index (PSI) of each lab against the
model's training rows: the training values' deciles give the bin edges, and
PSI = sum over bins of (a - e) * ln(a / e), with a and e the period's and the
training data's share of measured values in the bin (each at least 0.0001).
The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, 0.25 or
more a major shift (alert). Missing values are not binned: their share is a
figure of its own. The training distribution (``InputReference``) is stored
when a training run registers its model, or, for a model without one (the
shipped model), computed at its first monitoring refresh from the rows it was
trained on: the fixed-split training rows of the data file in
THYROWEB_DATA_DIR, or else the stored labelled panels.
"""

import logging
import math
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from diagnostics.access import known_user
from diagnostics.models import InputReference, ModelVersion, MonitoringSnapshot, PanelReview, Prediction
from diagnostics.services.audit import record_event
from diagnostics.services.holdout import is_held_out, labelled_panel_records, split_holdout
from diagnostics.services.registry import SHIPPED, active_model_version
from diagnostics.services.reviews import REVIEW_LABELS, current_review_ids
from diagnostics.services.training_data import training_records
from mlcore import rules
from mlcore.data import read_uci
from mlcore.holdout import holdout_key
from mlcore.schema import CLASSES, LAB_TESTS

logger = logging.getLogger(__name__)

BINS = 10
PSI_FLOOR = 1e-4
PSI_BANDS = (0.1, 0.25)
PERIODS = (MonitoringSnapshot.Period.WEEK, MonitoringSnapshot.Period.MONTH)
SHIPPED_DATA_FILES = ("thyroid0387-dev.data", "thyroid0387.data")


# --- The training distribution ---


def lab_reference(values: list[float], rows: int) -> dict:
    """Decile bin edges of a lab's measured training values, each bin's share, and the share missing."""
    missing_share = 1 - len(values) / rows if rows else None
    if len(values) < BINS:
        return {"edges": [], "proportions": [], "missing_share": missing_share, "values": len(values)}
    data = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(data, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, data, side="right"), minlength=len(edges) + 1)
    return {
        "edges": [float(e) for e in edges],
        "proportions": [float(c) for c in counts / len(data)],
        "missing_share": missing_share,
        "values": len(values),
    }


def reference_from_records(records: list[dict]) -> dict:
    return {lab: lab_reference([r[lab] for r in records if r.get(lab) is not None], len(records)) for lab in LAB_TESTS}


def store_input_reference(version: ModelVersion, records: list[dict], *, source: str) -> InputReference:
    reference, _ = InputReference.objects.update_or_create(
        model_version=version,
        defaults={"labs": reference_from_records(records), "source": source, "computed_at": timezone.now()},
    )
    return reference


def _training_rows_of(version: ModelVersion) -> tuple[list[dict], str]:
    """The rows a version without a stored reference was trained on, as well as they can be found again."""
    run = version.training_runs.order_by("-id").first()
    if run is not None:
        train, _ = split_holdout(training_records(run))
        return train, f"the training rows of run {run.pk}, read again at the first refresh"
    if version.artefact_path == SHIPPED:
        for name in SHIPPED_DATA_FILES:
            path = Path(settings.THYROWEB_DATA_DIR) / name
            if path.is_file():
                records = [
                    r for r in read_uci(path).records if r["label"] in CLASSES and not is_held_out(holdout_key(r))
                ]
                return records, f"the {len(records)} training rows (fixed split, not held out) of {name}"
    train, _ = split_holdout(labelled_panel_records())
    return train, f"the {len(train)} labelled panels in the database outside the held-out split"


def input_reference(version: ModelVersion) -> InputReference:
    """The version's stored training distribution, computed now if it has none yet."""
    reference = InputReference.objects.filter(model_version=version).first()
    if reference is None:
        records, source = _training_rows_of(version)
        reference = store_input_reference(version, records, source=source)
    return reference


def psi(actual: list[int], expected: list[float]) -> float | None:
    total = sum(actual)
    if not total or len(actual) != len(expected):
        return None
    value = 0.0
    for count, share in zip(actual, expected, strict=True):
        a, e = max(count / total, PSI_FLOOR), max(share, PSI_FLOOR)
        value += (a - e) * math.log(a / e)
    return value


def psi_band(value: float | None) -> str:
    if value is None:
        return ""
    return "major" if value >= PSI_BANDS[1] else "moderate" if value >= PSI_BANDS[0] else "stable"


# --- The aggregates ---


def _bin_conditions(lab: str, edges: list[float]) -> list[Q]:
    field = f"panel__{lab}"
    conditions = [Q(**{f"{field}__lt": edges[0]})] if edges else []
    for low, high in zip(edges, edges[1:], strict=False):
        conditions.append(Q(**{f"{field}__gte": low, f"{field}__lt": high}))
    if edges:
        conditions.append(Q(**{f"{field}__gte": edges[-1]}))
    return conditions


def daily_counts(version: ModelVersion, since: datetime, reference: dict) -> list[dict]:
    """One row per day: predictions, outcomes, classes, missing labs and each lab's bin counts (SQL)."""
    aggregates = {"n": Count("id")}
    for outcome in rules.OUTCOMES:
        aggregates[f"outcome__{outcome}"] = Count("id", filter=Q(outcome=outcome))
    for name in CLASSES:
        aggregates[f"class__{name}"] = Count("id", filter=Q(predicted_class=name))
    for lab in LAB_TESTS:
        aggregates[f"missing__{lab}"] = Count("id", filter=Q(**{f"panel__{lab}__isnull": True}))
        edges = (reference.get(lab) or {}).get("edges") or []
        for index, condition in enumerate(_bin_conditions(lab, edges)):
            aggregates[f"bin__{lab}__{index}"] = Count("id", filter=condition)
    day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
    rows = (
        Prediction.objects.filter(model_version=version, created_at__gte=since)
        .annotate(day=day)
        .values("day")
        .annotate(**aggregates)
        .order_by("day")
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Compiling ~80 aggregate expressions costs PostgreSQL's JIT more than it saves on this one
                # scan (1,000,000 predictions: 7.4 s with JIT, 5.2 s without); more sort memory avoids
                # spilling the per-day groups to disk. Both only for this transaction.
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
        return list(rows)


def period_start(day, period: str):
    if period == MonitoringSnapshot.Period.MONTH:
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def window_start(today, period: str, periods: int):
    """The first day of the oldest of the last ``periods`` weeks or months."""
    start = period_start(today, period)
    for _ in range(periods - 1):
        start = period_start(start - timedelta(days=1), period)
    return start


def _roll_up(days: list[dict], period: str, start) -> list[dict]:
    buckets: dict = {}
    for row in days:
        if row["day"] < start:
            continue
        key = period_start(row["day"], period)
        bucket = buckets.setdefault(key, {})
        for name, value in row.items():
            if name != "day":
                bucket[name] = bucket.get(name, 0) + value
    return [{"start": key, **buckets[key]} for key in sorted(buckets)]


def _period_figures(bucket: dict, reference: dict) -> dict:
    n = bucket["n"]
    labs = {}
    for lab in LAB_TESTS:
        missing = bucket[f"missing__{lab}"]
        ref = reference.get(lab) or {}
        counts = [bucket[key] for key in sorted((k for k in bucket if k.startswith(f"bin__{lab}__")), key=_index)]
        value = psi(counts, ref.get("proportions") or []) if counts else None
        few = n - missing < settings.THYROWEB_MONITORING_MIN_VALUES
        labs[lab] = {
            "missing_share": missing / n if n else None,
            "measured": n - missing,
            "psi": value,
            # Too few values for the index to mean much: shown, but neither banded nor charted.
            "band": "few" if few and value is not None else psi_band(value),
            "shares": [c / sum(counts) for c in counts] if counts and sum(counts) else [],
        }
    return {
        "start": bucket["start"].isoformat(),
        "panels": n,
        "outcomes": {o: bucket[f"outcome__{o}"] for o in rules.OUTCOMES},
        "classes": {c: bucket[f"class__{c}"] for c in CLASSES},
        "labs": labs,
    }


def _index(key: str) -> int:
    return int(key.rsplit("__", 1)[1])


def agreement(version: ModelVersion, since: datetime) -> dict:
    """Confusion matrix (reviewed class x predicted class) and macro-F1 over the current reviews of panels
    this version scored since ``since``; subclinical diagnoses count as their class (services/reviews.py)."""
    rows = (
        PanelReview.objects.filter(id__in=current_review_ids())
        .filter(panel__predictions__model_version=version, panel__predictions__created_at__gte=since)
        .values("diagnosis", "panel__predictions__predicted_class")
        .annotate(n=Count("id"))
    )
    columns = [*CLASSES, ""]
    matrix = {true: dict.fromkeys(columns, 0) for true in CLASSES}
    left_out = 0
    for row in rows:
        label = REVIEW_LABELS.get(row["diagnosis"])
        if label is None:
            left_out += row["n"]
        else:
            matrix[label][row["panel__predictions__predicted_class"] or ""] += row["n"]
    return {
        "matrix": [[matrix[true][c] for c in columns] for true in CLASSES],
        "columns": columns,
        "reviews": sum(sum(r.values()) for r in matrix.values()),
        "not_assessed": sum(matrix[true][""] for true in CLASSES),
        "left_out": left_out,
        "macro_f1": macro_f1(matrix),
    }


def macro_f1(matrix: dict) -> float | None:
    """Mean F1 over the classes that occur among reviewed or predicted classes (not-assessed rows excluded)."""
    scores = []
    for name in CLASSES:
        tp = matrix[name][name]
        fn = sum(matrix[name][c] for c in CLASSES if c != name)
        fp = sum(matrix[t][name] for t in CLASSES if t != name)
        if tp + fn + fp:
            scores.append(2 * tp / (2 * tp + fn + fp))
    return sum(scores) / len(scores) if scores else None


def compute_figures(version: ModelVersion, *, today=None) -> dict[str, dict]:
    """Figures by week and by month for a version (two SQL queries: the daily aggregate and agreement)."""
    today = today or timezone.localdate()
    reference = input_reference(version)
    starts = {p: window_start(today, p, settings.THYROWEB_MONITORING_PERIODS) for p in PERIODS}
    first = min(starts.values())
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    days = daily_counts(version, since, reference.labs)
    figures = {}
    for period in PERIODS:
        period_since = timezone.make_aware(datetime.combine(starts[period], datetime.min.time()))
        figures[period] = {
            "version": version.version,
            "period": period,
            "since": starts[period].isoformat(),
            "periods": [_period_figures(b, reference.labs) for b in _roll_up(days, period, starts[period])],
            "agreement": agreement(version, period_since),
            "reference": {
                "source": reference.source,
                "labs": reference.labs,
            },
        }
    return figures


def alerts_of(figures: dict) -> list[dict]:
    """Drift (a lab's PSI at the alert level over enough values in the latest period) and agreement
    (macro-F1 below the setting over enough reviews)."""
    alerts = []
    if figures["periods"]:
        latest = figures["periods"][-1]
        for lab, lab_figures in latest["labs"].items():
            value = lab_figures["psi"]
            if (
                value is not None
                and value >= settings.THYROWEB_MONITORING_PSI_ALERT
                and lab_figures["measured"] >= settings.THYROWEB_MONITORING_MIN_VALUES
            ):
                alerts.append({"kind": "drift", "lab": lab, "psi": round(value, 3), "period_start": latest["start"]})
    agreed = figures["agreement"]
    if (
        agreed["macro_f1"] is not None
        and agreed["reviews"] >= settings.THYROWEB_MONITORING_MIN_REVIEWS
        and agreed["macro_f1"] < settings.THYROWEB_MONITORING_MIN_MACRO_F1
    ):
        alerts.append({"kind": "agreement", "macro_f1": round(agreed["macro_f1"], 3), "reviews": agreed["reviews"]})
    return alerts


def _alert_key(alert: dict) -> tuple:
    return alert["kind"], alert.get("lab", "")


def refresh_monitoring(*, version: ModelVersion | None = None, user=None, request=None) -> list[MonitoringSnapshot]:
    """Compute and store the active (or given) version's figures by week and month. An alert (a drifting
    lab, low agreement) that the previous snapshots did not raise is written once to the audit trail."""
    version = version or active_model_version()
    started = time.perf_counter()
    figures = compute_figures(version)
    seconds = time.perf_counter() - started
    snapshots = []
    with transaction.atomic():
        raised = {
            _alert_key(alert)
            for period in PERIODS
            for alert in getattr(latest_snapshot(version, period), "alerts", None) or []
        }
        for period, period_figures in figures.items():
            snapshot = MonitoringSnapshot.objects.create(
                model_version=version,
                period=period,
                figures=period_figures,
                alerts=alerts_of(period_figures),
                seconds=seconds,
                computed_by=known_user(user),
            )
            snapshots.append(snapshot)
            for alert in snapshot.alerts:
                if _alert_key(alert) not in raised:
                    raised.add(_alert_key(alert))
                    record_event(
                        action="monitoring.alert", actor=user, request=request, obj=snapshot, period=period, **alert
                    )
    logger.info("monitoring of %s refreshed in %.2f s", version.version, seconds)
    return snapshots


def latest_snapshot(version: ModelVersion | None, period: str) -> MonitoringSnapshot | None:
    if version is None:
        return None
    return MonitoringSnapshot.objects.filter(model_version=version, period=period).first()


def active_alerts() -> list[dict]:
    """The alerts of the active version's latest snapshots (week and month), each (kind, lab) once."""
    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    seen, alerts = set(), []
    for period in PERIODS:
        snapshot = latest_snapshot(version, period)
        for alert in snapshot.alerts if snapshot else []:
            if _alert_key(alert) not in seen:
                seen.add(_alert_key(alert))
                alerts.append({**alert, "computed_at": snapshot.computed_at})
    return alerts
