"""Patients and their lab panels."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from diagnostics.access import CLINICIAN
from diagnostics.api.panel_serializers import PanelCreateSerializer
from diagnostics.api.serializers import PanelSerializer, PatientSerializer
from diagnostics.api.views.base import ApiViewMixin, query_filters, require_object
from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from diagnostics.services.intake import RECORD_NUMBER_MAX, record_panel
from mlcore.schema import SEXES


class PatientFilters(serializers.Serializer):
    record_number = serializers.CharField(required=False, max_length=RECORD_NUMBER_MAX)
    sex = serializers.ChoiceField(choices=SEXES, required=False)
    search = serializers.CharField(required=False, max_length=RECORD_NUMBER_MAX)


@extend_schema(tags=["patients"])
@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("record_number", str, description="Exact medical record number."),
            OpenApiParameter("sex", str, enum=list(SEXES)),
            OpenApiParameter("search", str, description="Part of the medical record number."),
        ]
    )
)
class PatientList(ApiViewMixin, generics.ListCreateAPIView):
    """Patients (soft-deleted ones hidden); create a patient."""

    required_role = CLINICIAN
    serializer_class = PatientSerializer

    def get_queryset(self):
        patients = Patient.objects.visible()
        filters = query_filters(PatientFilters, self.request) if self.request.method == "GET" else {}
        if "record_number" in filters:
            patients = patients.filter(record_number=filters["record_number"])
        if "sex" in filters:
            patients = patients.filter(sex=filters["sex"])
        if "search" in filters:
            patients = patients.filter(record_number__icontains=filters["search"])
        return patients

    @transaction.atomic
    def perform_create(self, serializer):
        patient = serializer.save()
        record_event(action="patient.create", request=self.request, obj=patient)


@extend_schema(tags=["patients"])
class PatientDetail(ApiViewMixin, generics.RetrieveUpdateAPIView):
    """One patient; every view is recorded in the audit trail."""

    required_role = CLINICIAN
    serializer_class = PatientSerializer
    queryset = Patient.objects.visible()

    def retrieve(self, request, *args, **kwargs):
        patient = self.get_object()
        record_event(action="patient.view", request=request, obj=patient)
        return Response(self.get_serializer(patient).data)

    @transaction.atomic
    def perform_update(self, serializer):
        patient = serializer.save()
        record_event(
            action="patient.update", request=self.request, obj=patient, fields=sorted(serializer.validated_data)
        )


def visible_patient(pk) -> Patient:
    return generics.get_object_or_404(Patient.objects.visible(), pk=pk)


@extend_schema(tags=["patients"])
class PatientPanels(ApiViewMixin, generics.ListCreateAPIView):
    """A patient's lab panels, newest first, each with its latest prediction; add a panel (scored at once:
    its prediction has the outcome, reasons and warnings). A panel without any lab value is refused (400,
    ``errors.labs``); one without TSH is stored and not assessed."""

    required_role = CLINICIAN
    serializer_class = PanelSerializer

    def get_queryset(self):
        return (
            LabPanel.objects.filter(patient_id=self.kwargs.get("pk"), patient__deleted_at__isnull=True)
            .prefetch_related("predictions__model_version", "predictions__panel")
            .order_by("-collected_at", "-id")
        )

    def list(self, request, *args, **kwargs):
        patient = visible_patient(kwargs["pk"])
        record_event(action="patient.view", request=request, obj=patient, what="panels")
        return super().list(request, *args, **kwargs)

    @extend_schema(request=PanelCreateSerializer, responses={201: PanelSerializer})
    def post(self, request, pk):
        given = PanelCreateSerializer(data=require_object(request.data))
        given.is_valid(raise_exception=True)
        with transaction.atomic():
            patient = generics.get_object_or_404(Patient.objects.visible().select_for_update(), pk=pk)
            panel, _ = record_panel(
                patient=patient,
                panel=given.validated_data.panel,
                source=LabPanel.Source.API,
                collected_at=given.validated_data.collected_at,
                user=request.user,
                request=request,
            )
        panel = self.get_queryset_for(panel)
        return Response(PanelSerializer(panel).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def get_queryset_for(panel: LabPanel) -> LabPanel:
        return LabPanel.objects.prefetch_related("predictions__model_version", "predictions__panel").get(pk=panel.pk)
