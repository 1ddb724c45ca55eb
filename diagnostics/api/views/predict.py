"""Scoring panels: one panel (optionally stored for a patient) or up to 10,000 at once."""

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.access import CLINICIAN
from diagnostics.api.errors import PayloadTooLarge
from diagnostics.api.schema import ErrorSerializer
from diagnostics.api.serializers import (
    BulkPredictRequestSerializer,
    BulkPredictResponseSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
    panel_type_errors,
    split_lab_units,
)
from diagnostics.api.views.base import ApiViewMixin, require_object
from diagnostics.models import LabPanel, Patient
from diagnostics.patterns import with_message
from diagnostics.reasons import with_messages
from diagnostics.services.audit import record_event
from diagnostics.services.panels import create_panel, get_or_create_patient
from diagnostics.services.registry import active_model_version, load_predictor
from diagnostics.services.scoring import predict_values, score_panel
from mlcore import units
from mlcore.schema import CLASSES, InputError, check_has_lab_value, validate_panel_all

MAX_BULK_PANELS = 10_000


def panel_errors(data: dict) -> tuple[dict | None, dict[str, list[str]]]:
    """(clean panel, {}) or (None, every field's problems): JSON types first, then units and mlcore's ranges;
    a panel without any lab value is refused under ``labs``.

    A lab sent as {"value", "unit"} is converted to our unit (mlcore.units); the clean panel's
    ``received`` keeps it as sent."""
    errors = panel_type_errors(data)
    plain, given = split_lab_units({key: value for key, value in data.items() if key not in errors})
    values, received, unit_problems = units.convert_panel(plain, given)
    refused = {problem.field for problem in unit_problems}
    clean, problems = validate_panel_all({key: value for key, value in values.items() if key not in refused})
    if clean is not None:
        try:
            check_has_lab_value(clean)
        except InputError as problem:
            problems.append(problem)
    for problem in [*unit_problems, *problems]:
        errors.setdefault(problem.field, []).append(problem.message)
    if errors:
        return None, errors
    return {**clean, "received": received}, {}


def validated_panel(data: dict) -> dict:
    clean, errors = panel_errors(data)
    if errors:
        raise serializers.ValidationError(errors)
    return clean


def result_data(result, version: str) -> dict:
    """A prediction (mlcore's PredictionResult or a stored Prediction) as the predict endpoints answer it."""
    probabilities = result.probabilities
    return {
        "outcome": result.outcome,
        "predicted_class": result.predicted_class or None,
        "probabilities": {name: float(probabilities[name]) for name in CLASSES} if probabilities else None,
        "uncertain": bool(result.uncertain),
        "reasons": with_messages(result.reasons),
        "warnings": with_messages(result.warnings),
        "pattern": with_message(result.pattern),
        "explanation": result.explanation,
        "model_version": version,
    }


def pop_collected_at(data: dict, errors: dict):
    """Take ``collected_at`` (ISO 8601) out of a panel body; a bad value goes into ``errors``."""
    if "collected_at" not in data:
        return None
    try:
        return serializers.DateTimeField().run_validation(data.pop("collected_at"))
    except serializers.ValidationError as error:
        errors["collected_at"] = list(error.detail)
        return None


def store_and_score(*, patient: Patient, clean: dict, collected_at, request):
    """Store an API panel for the patient and score it (the caller holds the transaction)."""
    panel = create_panel(
        patient=patient,
        clean=clean,
        source=LabPanel.Source.API,
        user=request.user,
        request=request,
        collected_at=collected_at,
        received=clean.get("received"),
    )
    return panel, score_panel(panel=panel, user=request.user, request=request)


def _pop_options(data: dict) -> tuple[str | None, bool, object]:
    errors = {}
    patient = data.pop("patient", None)
    if patient is not None and (not isinstance(patient, str) or not patient.strip() or len(patient) > 64):
        errors["patient"] = ["patient must be a medical record number (1 to 64 characters)"]
    elif patient is not None and "\x00" in patient:
        errors["patient"] = ["patient must not contain NUL characters"]
    store = data.pop("store", patient is not None)
    if not isinstance(store, bool):
        errors["store"] = [f"store {store!r} is not true or false"]
    elif store and patient is None:
        errors["patient"] = ["patient (a medical record number) is required when store is true"]
    collected_at = pop_collected_at(data, errors)
    if errors:
        raise serializers.ValidationError(errors)
    return (patient.strip() if patient else None), store, collected_at


@extend_schema(
    tags=["predict"],
    request=PredictRequestSerializer,
    responses={
        200: OpenApiResponse(PredictResponseSerializer, description="Scored, nothing stored."),
        201: OpenApiResponse(PredictResponseSerializer, description="Stored for the patient (store=true) and scored."),
    },
)
class Predict(ApiViewMixin, APIView):
    """Score one panel with the active model; with ``patient`` the panel and prediction are stored.

    The answer's ``outcome`` says whether the class can be relied on (``assessed``), must be reviewed by a
    clinician (``refer``, see ``reasons``) or cannot be given (``not_assessed``: no TSH). ``warnings`` name
    input values to check. A panel without any lab value is refused (400, ``errors.labs``)."""

    required_role = CLINICIAN

    def post(self, request):
        data = dict(require_object(request.data))
        record_number, store, collected_at = _pop_options(data)
        clean = validated_panel(data)
        if not store:
            # Nothing stored and no patient: no audit row (a synchronous commit per call would halve throughput).
            result, version = predict_values(clean)
            return Response(result_data(result, version.version))
        with transaction.atomic():
            existing = Patient.objects.filter(record_number=record_number).first()
            if existing is not None and existing.deleted_at is not None:
                raise serializers.ValidationError({"patient": ["this patient was deleted"]})
            patient = existing or get_or_create_patient(
                record_number=record_number, sex=clean["sex"], user=request.user, request=request
            )
            panel, prediction = store_and_score(
                patient=patient, clean=clean, collected_at=collected_at, request=request
            )
        body = {
            **result_data(prediction, prediction.model_version.version),
            "patient_id": patient.pk,
            "panel_id": panel.pk,
            "prediction_id": prediction.pk,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["predict"],
    request=BulkPredictRequestSerializer,
    responses={
        200: BulkPredictResponseSerializer,
        413: OpenApiResponse(ErrorSerializer, description="More than 10,000 panels, or a body too large."),
    },
)
class BulkPredict(ApiViewMixin, APIView):
    """Score up to 10,000 panels in one request (nothing stored, no explanations); all valid or a 400.

    Each result has the outcome, reasons and warnings of a panel scored alone; a panel without any lab
    value is refused (``errors["panels.<i>.labs"]``)."""

    required_role = CLINICIAN

    def post(self, request):
        data = require_object(request.data)
        unknown = [key for key in data if key != "panels"]
        panels = data.get("panels")
        if unknown:
            raise serializers.ValidationError({key: [f"unknown field {key!r}"] for key in unknown})
        if not isinstance(panels, list) or not panels:
            raise serializers.ValidationError({"panels": ["panels must be a non-empty list of panel objects"]})
        if len(panels) > MAX_BULK_PANELS:
            raise PayloadTooLarge(
                {"panels": [f"{len(panels)} panels sent; at most {MAX_BULK_PANELS:,} are accepted per request"]}
            )
        rows, errors = [], {}
        for index, panel in enumerate(panels):
            if not isinstance(panel, dict):
                errors[f"panels.{index}"] = ["each panel must be a JSON object"]
                continue
            clean, problems = panel_errors(panel)
            for field, messages in problems.items():
                errors[f"panels.{index}.{field}"] = messages
            rows.append(clean)
        if errors:
            raise serializers.ValidationError(errors)
        version = active_model_version()
        scored = load_predictor(version).predict(rows, explain=False)
        results = [result_data(result, version.version) for result in scored]
        record_event(action="prediction.bulk", request=request, model_version=version.version, count=len(results))
        return Response({"model_version": version.version, "count": len(results), "results": results})
