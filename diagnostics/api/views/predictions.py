"""Stored predictions: list (filterable) and retrieve."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from diagnostics.access import CLINICIAN
from diagnostics.api.serializers import PredictionSerializer
from diagnostics.api.views.base import ApiViewMixin, query_filters
from diagnostics.models import Prediction
from mlcore.rules import OUTCOMES
from mlcore.schema import CLASSES


class PredictionFilters(serializers.Serializer):
    patient = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    panel = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    outcome = serializers.ChoiceField(choices=OUTCOMES, required=False)
    predicted_class = serializers.ChoiceField(choices=CLASSES, required=False)
    uncertain = serializers.BooleanField(required=False, allow_null=True, default=None)
    model_version = serializers.CharField(required=False, max_length=64)


def visible_predictions():
    return Prediction.objects.filter(panel__patient__deleted_at__isnull=True).select_related("panel", "model_version")


@extend_schema(
    tags=["predictions"],
    parameters=[
        OpenApiParameter("patient", int, description="Patient id."),
        OpenApiParameter("panel", int, description="Lab panel id."),
        OpenApiParameter("outcome", str, enum=list(OUTCOMES)),
        OpenApiParameter("predicted_class", str, enum=list(CLASSES)),
        OpenApiParameter("uncertain", bool),
        OpenApiParameter("model_version", str, description="Model version name."),
    ],
)
class PredictionList(ApiViewMixin, generics.ListAPIView):
    """Stored predictions, newest first."""

    required_role = CLINICIAN
    serializer_class = PredictionSerializer

    def get_queryset(self):
        predictions = visible_predictions()
        filters = query_filters(PredictionFilters, self.request)
        lookups = {
            "patient": "panel__patient_id",
            "panel": "panel_id",
            "outcome": "outcome",
            "predicted_class": "predicted_class",
            "uncertain": "uncertain",
            "model_version": "model_version__version",
        }
        return predictions.filter(**{lookups[key]: value for key, value in filters.items()})


@extend_schema(tags=["predictions"])
class PredictionDetail(ApiViewMixin, generics.RetrieveAPIView):
    required_role = CLINICIAN
    serializer_class = PredictionSerializer

    def get_queryset(self):
        return visible_predictions()
