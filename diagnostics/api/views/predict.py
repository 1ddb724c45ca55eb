"""Scoring panels: one panel (optionally stored for a patient) or up to 10,000 at once."""

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.access import CLINICIAN
from diagnostics.api.panel_serializers import (
    BulkPredictRequestSerializer,
    BulkPredictResponseSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
    StoredAnswer,
)
from diagnostics.api.schema import ErrorSerializer
from diagnostics.api.views.base import ApiViewMixin, require_object
from diagnostics.models import LabPanel
from diagnostics.services.audit import record_event
from diagnostics.services.intake import PatientDeleted, patient_for, record_panel, score_panels, score_values
from diagnostics.services.registry import active_model_version


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
        given = PredictRequestSerializer(data=require_object(request.data))
        given.is_valid(raise_exception=True)
        asked = given.validated_data
        if not asked.store:
            # Nothing stored and no patient: no audit row (a synchronous commit per call would halve throughput).
            result, version = score_values(asked.panel)
            return Response(PredictResponseSerializer(result, context={"model_version": version.version}).data)
        with transaction.atomic():
            try:
                patient = patient_for(
                    record_number=asked.patient, sex=asked.panel.values["sex"], user=request.user, request=request
                )
            except PatientDeleted:
                raise serializers.ValidationError({"patient": ["this patient was deleted"]}) from None
            panel, prediction = record_panel(
                patient=patient,
                panel=asked.panel,
                source=LabPanel.Source.API,
                collected_at=asked.collected_at,
                user=request.user,
                request=request,
            )
        answer = StoredAnswer(patient.pk, panel.pk, prediction)
        body = PredictResponseSerializer(answer, context={"model_version": prediction.model_version.version}).data
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
        given = BulkPredictRequestSerializer(data=require_object(request.data))
        given.is_valid(raise_exception=True)
        results, version = score_panels(given.validated_data, version=active_model_version())
        record_event(action="prediction.bulk", request=request, model_version=version.version, count=len(results))
        return Response(BulkPredictResponseSerializer(results, context={"model_version": version.version}).data)
