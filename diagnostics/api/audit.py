"""The audit trail over the API (admins only): search and CSV export."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from diagnostics.access import ADMIN
from diagnostics.audit_search import AuditSearchForm, csv_response, search_events
from diagnostics.models import AuditEvent
from diagnostics.services.audit import record_event

SEARCH_PARAMETERS = [
    OpenApiParameter("actor", str, description="user name (exact, any case)"),
    OpenApiParameter("action", str, description="action or its prefix, e.g. `auth.` or `panel.create`"),
    OpenApiParameter("object_type", str, description="e.g. `patient`, `labpanel`, `prediction`"),
    OpenApiParameter("object_id", str),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="first day, inclusive"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last day, inclusive"),
]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor_username", "action", "object_type", "object_id", "ip_address", "details"]


def search_filters(request) -> dict:
    form = AuditSearchForm(request.query_params)
    if not form.is_valid():
        raise ValidationError(
            {"detail" if name == "__all__" else name: list(messages) for name, messages in form.errors.items()}
        )
    return form.cleaned_data


class CSVRenderer(BaseRenderer):
    """Lets clients ask for text/csv; errors still arrive as readable lines."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        errors = (data or {}).get("errors", {}) if isinstance(data, dict) else {}
        return "".join(f"{field}: {message}\n" for field, messages in errors.items() for message in messages)


@extend_schema(parameters=SEARCH_PARAMETERS)
class AuditEventList(generics.ListAPIView):
    """Audit events, newest first, filtered by actor, action, object and dates."""

    required_role = ADMIN
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        return search_events(**search_filters(self.request))


class AuditExport(APIView):
    """The matching audit events as a CSV file (formula cells neutralised)."""

    required_role = ADMIN
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=SEARCH_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one event per line")},
    )
    def get(self, request):
        filters = search_filters(request)
        record_event(action="audit.export", request=request, filters={k: str(v) for k, v in filters.items() if v})
        return csv_response(search_events(**filters))


urlpatterns = [
    path("", AuditEventList.as_view(), name="api-audit"),
    path("export.csv", AuditExport.as_view(), name="api-audit-export"),
]
