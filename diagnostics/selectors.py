"""Reads for the pages (and the API where it needs the same): dashboard, patients, panels, models, jobs."""

import json
import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from diagnostics.models import LabPanel, ModelVersion, PanelReview, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.services.registry import PromotionRefused, artefact_file, compare_with_active
from mlcore import rules
from mlcore.schema import CLASSES, LAB_TESTS

PATIENTS_PER_PAGE = 50
PANELS_ON_PATIENT_PAGE = 500
HEADLINE_METRICS = ("accuracy", "macro_f1", "roc_auc_ovr", "ece")


# Dashboard ---------------------------------------------------------------------------------------


def dashboard_summary(*, days: int = 30, review_limit: int = 10) -> dict:
    """Counts, class distribution, predictions per day, active model and the recent predictions that need
    review (outcome refer or not assessed)."""
    since = timezone.now() - timedelta(days=days)
    distribution = dict(
        Prediction.objects.values_list("predicted_class").annotate(n=Count("id")).values_list("predicted_class", "n")
    )
    per_day = (
        Prediction.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by("day")
        .values_list("day", "n")
    )
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    return {
        "counts": {
            "patients": Patient.objects.visible().count(),
            "panels": LabPanel.objects.count(),
            "predictions": sum(distribution.values()),
        },
        "distribution": [{"class": name, "count": distribution.get(name, 0)} for name in CLASSES],
        "per_day": _every_day(dict(per_day), days),
        "recent_predictions": sum(n for _, n in per_day),
        "active_version": active,
        "headline": headline_metrics(active) if active else [],
        "needs_review": list(
            Prediction.objects.filter(
                outcome__in=(rules.REFER, rules.NOT_ASSESSED), panel__patient__deleted_at__isnull=True
            )
            .select_related("panel__patient", "model_version")
            .order_by("-created_at", "-id")[:review_limit]
        ),
    }


def _every_day(counts: dict, days: int) -> list[dict]:
    """One entry per day of the period, zero where nothing was predicted (the chart's axis stays true to time)."""
    today = timezone.localdate()
    return [
        {"day": day.isoformat(), "count": counts.get(day, 0)}
        for day in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    ]


# Patients ----------------------------------------------------------------------------------------


@dataclass
class PatientRow:
    patient: Patient
    age: float | None = None
    last_collected_at: object = None
    last_class: str = ""
    last_uncertain: bool = False
    last_outcome: str = ""
    last_panel_id: int | None = None


@dataclass
class PatientPage:
    rows: list[PatientRow]
    number: int
    has_next: bool
    query: str

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _patients_matching(text: str):
    patients = Patient.objects.visible().order_by("record_number")
    if text:
        # Any part of the record number ("8408" finds "UCI-840801013"), in any case. No B-tree index serves
        # a match inside the text, so PostgreSQL reads the whole patient table: 150-210 ms at 100,000
        # patients on the shared 2-core test machine (bench/pages.py; a prefix match took 0.2 ms). A trigram
        # index (the pg_trgm extension) would serve it if the table grows much beyond that.
        patients = patients.filter(record_number__icontains=text)
    return patients


def patient_page(*, query: str = "", number: int = 1, per_page: int = PATIENTS_PER_PAGE) -> PatientPage:
    """One page of visible patients by record number, without counting the whole table."""
    number = max(1, number)
    query = query.strip()
    offset = (number - 1) * per_page
    columns = ("id", "record_number", "sex", "date_of_birth")
    patients = list(_patients_matching(query).only(*columns)[offset : offset + per_page + 1])
    has_next = len(patients) > per_page
    rows = [PatientRow(patient=p) for p in patients[:per_page]]
    _attach_last_results(rows)
    return PatientPage(rows=rows, number=number, has_next=has_next, query=query)


def _attach_last_results(rows: list[PatientRow]) -> None:
    """The latest panel (age, date) and its latest prediction, for this page's patients only."""
    if not rows:
        return
    latest_panel = LabPanel.objects.filter(patient=OuterRef("pk")).order_by("-collected_at", "-id").values("id")[:1]
    last_ids = dict(
        Patient.objects.filter(pk__in=[row.patient.pk for row in rows])
        .annotate(last_panel=Subquery(latest_panel))
        .values_list("id", "last_panel")
    )
    panel_ids = [pid for pid in last_ids.values() if pid is not None]
    panels = {p["id"]: p for p in LabPanel.objects.filter(pk__in=panel_ids).values("id", "age", "collected_at")}
    predictions = {}
    for panel_id, predicted_class, uncertain, outcome in (
        Prediction.objects.filter(panel_id__in=panel_ids)
        .order_by("panel_id", "created_at", "id")
        .values_list("panel_id", "predicted_class", "uncertain", "outcome")
    ):
        predictions[panel_id] = (predicted_class, uncertain, outcome)  # the latest wins
    for row in rows:
        panel_id = last_ids.get(row.patient.pk)
        panel = panels.get(panel_id)
        if panel is None:
            continue
        row.last_panel_id = panel_id
        row.age = panel["age"]
        row.last_collected_at = panel["collected_at"]
        row.last_class, row.last_uncertain, row.last_outcome = predictions.get(panel_id, ("", False, ""))


@dataclass
class PanelRow:
    panel: LabPanel
    prediction: Prediction | None


def patient_panels(patient: Patient, *, limit: int = PANELS_ON_PATIENT_PAGE) -> list[PanelRow]:
    """The patient's panels, newest first, each with its latest prediction."""
    panels = list(LabPanel.objects.filter(patient=patient).order_by("-collected_at", "-id")[:limit])
    latest: dict[int, Prediction] = {}
    for prediction in (
        Prediction.objects.filter(panel_id__in=[p.pk for p in panels])
        .select_related("model_version")
        .order_by("panel_id", "created_at", "id")
    ):
        latest[prediction.panel_id] = prediction
    return [PanelRow(panel=p, prediction=latest.get(p.pk)) for p in panels]


def lab_history_chart(panel_rows: list[PanelRow]) -> dict:
    """Chart data: each lab test's values over time (oldest first) with its reference interval and,
    per point, the predicted class and outcome of the panel."""
    series = {}
    ordered = sorted(panel_rows, key=lambda row: (row.panel.collected_at, row.panel.pk))
    for name, test in LAB_TESTS.items():
        points = [
            {
                "x": int(row.panel.collected_at.timestamp() * 1000),
                "y": getattr(row.panel, name),
                # the point's colour and hover text: the panel's predicted class and outcome (codes)
                "cls": row.prediction.predicted_class if row.prediction else "",
                "outcome": row.prediction.outcome if row.prediction else "",
            }
            for row in ordered
            if getattr(row.panel, name) is not None
        ]
        series[name] = {
            "label": name,
            "unit": test.unit,
            "reference": [test.reference_low, test.reference_high],
            "points": points,
        }
    return series


def latest_prediction(panel: LabPanel) -> Prediction | None:
    """The panel's prediction by the active model if any, else its most recent one."""
    predictions = list(panel.predictions.select_related("model_version").order_by("-created_at", "-id"))
    for prediction in predictions:
        if prediction.model_version.status == ModelVersion.Status.ACTIVE:
            return prediction
    return predictions[0] if predictions else None


# Models ------------------------------------------------------------------------------------------


def headline_metrics(version: ModelVersion) -> list[dict]:
    """The few metrics shown on the dashboard: accuracy, macro-F1, ROC AUC, ECE, recall per class."""
    metrics = version.metrics or {}
    found = [{"key": key, "value": metrics[key]} for key in HEADLINE_METRICS if _is_number(metrics.get(key))]
    recall = metrics.get("recall")
    if isinstance(recall, dict):
        found += [{"key": f"recall_{name}", "value": recall[name]} for name in CLASSES if _is_number(recall.get(name))]
    return found


def _is_number(value) -> bool:
    """A finite int or float (NaN metrics, e.g. an AUC with one class absent, are left out)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _per_class(metrics: dict, key: str, name: str):
    """A per-class metric stored as metrics[key][class] (mlcore.evaluate), or None."""
    value = metrics.get(key)
    if isinstance(value, dict) and _is_number(value.get(name)):
        return value[name]
    return None


def _points(curve, x_name: str, y_name: str) -> list[dict]:
    """Chart points {x, y} from a curve stored as a list of dicts (mlcore.evaluate's point lists)."""
    if not isinstance(curve, list):
        return []
    return [
        {"x": point[x_name], "y": point[y_name]}
        for point in curve
        if isinstance(point, dict) and _is_number(point.get(x_name)) and _is_number(point.get(y_name))
    ]


def _curves(metrics: dict, key: str, x_name: str, y_name: str) -> dict[str, list[dict]]:
    curves = metrics.get(key)
    if not isinstance(curves, dict):
        return {}
    return {name: _points(curves.get(name), x_name, y_name) for name in CLASSES if name in curves}


def version_metrics(version: ModelVersion) -> dict:
    """The version's stored metrics, completed from its artefact's metrics.json (curves, confusion matrix)
    when the row holds only the summary figures (read, never unpacked to disk)."""
    stored = version.metrics or {}
    if "roc_curves" in stored:
        return stored
    try:
        full = json.loads(artefact_file(version, "metrics.json") or b"{}")
    except ValueError:
        return stored
    return {**full, **stored} if isinstance(full, dict) else stored


def version_model_card(version: ModelVersion) -> str:
    """The version's model card (Markdown): the stored text, else the artefact's model_card.md."""
    if version.model_card:
        return version.model_card
    try:
        return (artefact_file(version, "model_card.md") or b"").decode("utf-8")
    except UnicodeDecodeError:
        return ""


def promotion_comparison(version: ModelVersion) -> dict:
    """A candidate against the active model, on the fixed held-out rows and on recent reviewed panels (both
    versions score them now); for the active version, the comparison stored when it was promoted."""
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    stored = active is None or active.pk == version.pk
    if stored:
        comparison = version.metrics.get("promotion") if isinstance(version.metrics, dict) else None
    else:
        try:
            comparison = compare_with_active(version, active)
        except (PromotionRefused, OSError, ValueError):
            comparison = None
    reviewed = (comparison or {}).get("reviewed") or {}
    return {
        "comparison": comparison,
        "stored": stored,
        "held_out_rows": _metric_rows(comparison) if comparison else [],
        "reviewed_rows": _metric_rows(reviewed) if reviewed.get("candidate") else [],
    }


def _metric_rows(scores: dict) -> list[dict]:
    return [
        {
            "key": key,
            "candidate": (scores.get("candidate") or {}).get(key),
            "active": (scores.get("active") or {}).get(key),
        }
        for key in ("macro_f1", "recall_hyperthyroid", "accuracy")
    ]


def patient_reviews(patient: Patient, *, limit: int = 200) -> list[PanelReview]:
    """Every review of the patient's panels, latest first (amendments included)."""
    reviews = (
        PanelReview.objects.filter(panel__patient=patient)
        .select_related("panel", "reviewed_by", "prediction")
        .order_by("-reviewed_at", "-id")[:limit]
    )
    return list(reviews)


def holdout_comparison(metrics: dict) -> dict | None:
    """The held-out comparison with the then active model, made when the version was trained, if any."""
    holdout = metrics.get("holdout")
    if not isinstance(holdout, dict) or not isinstance(holdout.get("candidate"), dict):
        return None
    baseline = holdout.get("baseline") if isinstance(holdout.get("baseline"), dict) else {}
    return {
        "rows": holdout.get("rows"),
        "baseline_version": holdout.get("baseline_version"),
        "figures": [
            {"key": key, "candidate": holdout["candidate"].get(key), "baseline": baseline.get(key)}
            for key in ("macro_f1", "recall_hyperthyroid", "accuracy")
        ],
    }


def model_performance(version: ModelVersion) -> dict:
    """Everything the performance page draws for one version, read from its metrics (mlcore.evaluate's JSON)."""
    metrics = version_metrics(version)
    per_class = [
        {
            "class": name,
            **{key: _per_class(metrics, key, name) for key in ("precision", "recall", "f1", "support")},
            "auc": _per_class(metrics, "roc_auc", name),
        }
        for name in CLASSES
    ]
    matrix = metrics.get("confusion_matrix")
    if isinstance(matrix, dict):
        matrix = matrix.get("matrix")
    valid = isinstance(matrix, list) and len(matrix) == len(CLASSES) and all(isinstance(r, list) for r in matrix)
    return {
        "version": version,
        "summary": [
            {"key": key, "value": metrics[key]} for key in (*HEADLINE_METRICS, "n") if _is_number(metrics.get(key))
        ],
        "per_class": per_class,
        "confusion": _confusion_rows(matrix) if valid else None,
        "holdout": holdout_comparison(metrics),
        "charts": {
            "roc": _curves(metrics, "roc_curves", "fpr", "tpr"),
            "pr": _curves(metrics, "pr_curves", "recall", "precision"),
            "reliability": _points(metrics.get("reliability_curve"), "confidence", "accuracy"),
        },
    }


def _confusion_rows(matrix: list[list]) -> list[dict]:
    """Rows of the confusion matrix with a shade 0-9 per cell (share of the row), for CSS classes."""
    rows = []
    for name, counts in zip(CLASSES, matrix, strict=True):
        total = sum(c for c in counts if _is_number(c)) or 1
        cells = [{"count": c, "shade": min(9, int(10 * c / total)) if _is_number(c) else 0} for c in counts]
        rows.append({"class": name, "cells": cells, "total": total})
    return rows


def model_versions():
    return ModelVersion.objects.order_by("-created_at").select_related("trained_by", "activated_by")


# Jobs --------------------------------------------------------------------------------------------


def training_runs(*, limit: int = 50):
    return list(TrainingRun.objects.select_related("result_version", "started_by").order_by("-created_at")[:limit])


def scoring_jobs(*, limit: int = 50):
    return list(ScoringJob.objects.select_related("model_version", "created_by").order_by("-created_at")[:limit])


def _best_epoch(rows: list[dict]) -> int | None:
    scored = [row for row in rows if _is_number(row.get("val_loss"))]
    best = min(scored, key=lambda row: (row["val_loss"], row["epoch"]), default=None)
    return best["epoch"] if best else None


def training_stages(history: list[dict]) -> dict:
    """A training run's epochs split by stage (mlcore.train.train_model): the early-stopped "fit" of the
    model kept, then one early-stopped "cv" model per fold of the training rows, whose out-of-fold
    predictions set the temperature and the referral threshold. Each stage counts its epochs from 1."""
    rows = [row for row in history or [] if isinstance(row, dict) and isinstance(row.get("epoch"), int)]
    fit = [row for row in rows if row.get("stage", "fit") == "fit"]
    by_fold: dict[int, list[dict]] = {}
    for row in rows:
        if row.get("stage") == "cv" and isinstance(row.get("fold"), int):
            by_fold.setdefault(row["fold"], []).append(row)
    cv = [
        {
            "fold": fold + 1,
            "rows": by_fold[fold],
            "epochs": len(by_fold[fold]),
            "best_epoch": _best_epoch(by_fold[fold]),
        }
        for fold in sorted(by_fold)
    ]
    return {
        "fit": fit,
        "cv": cv,
        "fit_epochs": len(fit),
        "max_epochs": fit[-1].get("epochs") if fit else None,
        "best_epoch": _best_epoch(fit),
        "cv_folds": len(cv),
        "cv_epochs_low": min((fold["epochs"] for fold in cv), default=None),
        "cv_epochs_high": max((fold["epochs"] for fold in cv), default=None),
    }


def job_progress(model, ids: list[int]) -> list[dict]:
    """The live fields of some training runs or scoring jobs, for the progress poll."""
    fields = ["id", "status", "progress", "message", "finished_at"]
    if model is TrainingRun:
        fields += ["epoch", "epochs", "val_macro_f1", "result_version_id"]
    else:
        fields += ["total_rows", "accepted_rows", "rejected_rows", "scored_rows"]
    labels = dict(model._meta.get_field("status").choices)
    rows = []
    for row in model.objects.filter(pk__in=ids[:100]).values(*fields):
        row["status_label"] = str(labels.get(row["status"], row["status"]))
        row["finished_at"] = row["finished_at"].isoformat() if row["finished_at"] else None
        row["done"] = row["status"] in ("succeeded", "failed")
        rows.append(row)
    return rows
