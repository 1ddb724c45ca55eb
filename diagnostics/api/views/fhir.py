"""FHIR R4 lab exchange: import a Bundle of lab Observations, export a patient's panels and predictions."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.access import CLINICIAN
from diagnostics.api.serializers import PanelSerializer
from diagnostics.api.views.base import ApiViewMixin, BoundedJSONParser, FhirJSONParser, FhirJSONRenderer
from diagnostics.api.views.patients import visible_patient
from diagnostics.services.audit import record_event
from diagnostics.services.fhir import FhirError, export_patient_bundle, import_bundle


class FhirBundleSerializer(serializers.Serializer):
    """A FHIR R4 Bundle (transaction or collection) of lab Observations and a Patient."""

    resourceType = serializers.ChoiceField(choices=["Bundle"])  # noqa: N815 (FHIR's spelling)
    type = serializers.ChoiceField(choices=["transaction", "collection", "batch"])
    identifier = serializers.JSONField(required=False, help_text="Makes the import idempotent.")
    entry = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=1000)


class FhirImportResultSerializer(serializers.Serializer):
    patient_id = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when this Bundle identifier was imported before.")
    panels = PanelSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class FhirExportSerializer(serializers.Serializer):
    resourceType = serializers.CharField()  # noqa: N815
    id = serializers.CharField()
    type = serializers.CharField()
    timestamp = serializers.CharField()
    entry = serializers.ListField(child=serializers.JSONField())


_EXAMPLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:7f1c5a1e-3c7e-4c1b-9a7e-2f7f3c1d2a10",
            "resource": {"resourceType": "Patient", "identifier": [{"value": "MRN-0001"}], "gender": "female"},
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "3016-3"}]},
                "subject": {"reference": "urn:uuid:7f1c5a1e-3c7e-4c1b-9a7e-2f7f3c1d2a10"},
                "effectiveDateTime": "2024-05-01T08:30:00Z",
                "valueQuantity": {
                    "value": 45,
                    "unit": "mIU/L",
                    "system": "http://unitsofmeasure.org",
                    "code": "m[IU]/L",
                },
            },
            "request": {"method": "POST", "url": "Observation"},
        },
    ],
}


@extend_schema(
    tags=["fhir"],
    request=FhirBundleSerializer,
    examples=[OpenApiExample("TSH for a new patient", value=_EXAMPLE, request_only=True)],
    responses={
        201: OpenApiResponse(FhirImportResultSerializer, description="Stored and scored."),
        200: OpenApiResponse(FhirImportResultSerializer, description="Already imported (same Bundle identifier)."),
    },
)
class FhirImport(ApiViewMixin, APIView):
    """Import a Bundle of LOINC-coded lab Observations: one panel per collection time, each scored.

    Units are converted (e.g. total T4 in ug/dL to nmol/L); an unknown unit is refused with the path
    of the offending value. Free T4/T3 and T3 resin uptake are ignored with a warning.
    """

    required_role = CLINICIAN
    parser_classes = [BoundedJSONParser, FhirJSONParser]

    def post(self, request):
        try:
            result = import_bundle(bundle=request.data, user=request.user, request=request)
        except FhirError as error:
            raise serializers.ValidationError(error.errors) from None
        panels = [PanelSerializer(panel).data for panel in result.panels]
        body = {
            "patient_id": result.patient.pk,
            "created": result.created,
            "panels": panels,
            "warnings": result.warnings,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema(tags=["fhir"], responses={200: FhirExportSerializer})
class FhirPatientExport(ApiViewMixin, APIView):
    """The patient's panels as FHIR lab Observations and predictions as RiskAssessments (a collection Bundle).

    Answered as ``application/json``, or as ``application/fhir+json`` when the client asks for it.
    """

    required_role = CLINICIAN
    renderer_classes = [JSONRenderer, FhirJSONRenderer]

    def get(self, request, pk):
        patient = visible_patient(pk)
        record_event(action="patient.export_fhir", request=request, obj=patient)
        return Response(export_patient_bundle(patient))
