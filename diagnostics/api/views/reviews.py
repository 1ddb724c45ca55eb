"""The review worklist, reviews of a panel, and the monitoring figures of the active model."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.access import CLINICIAN, DATA_MANAGER
from diagnostics.api.review_serializers import (
    MonitoringQuery,
    MonitoringSnapshotSerializer,
    ReviewCreateSerializer,
    ReviewSerializer,
    WorklistFilters,
    WorklistItemSerializer,
)
from diagnostics.api.views.base import ApiViewMixin, query_filters, require_object
from diagnostics.models import LabPanel, ModelVersion, PanelReview
from diagnostics.services.monitoring import latest_snapshot, refresh_monitoring
from diagnostics.services.review_queue import AGE_CHOICES, QUEUE_REASONS, REASON_CODES, worklist
from diagnostics.services.reviews import record_review
from mlcore.schema import CLASSES


@extend_schema(
    tags=["reviews"],
    parameters=[
        OpenApiParameter("reason", str, enum=[*QUEUE_REASONS, *REASON_CODES]),
        OpenApiParameter("predicted_class", str, enum=[*CLASSES, "none"]),
        OpenApiParameter("older_than_days", int, enum=list(AGE_CHOICES)),
    ],
)
class ReviewWorklist(ApiViewMixin, generics.ListAPIView):
    """Panels waiting for a clinician's review (their latest prediction), oldest first."""

    required_role = CLINICIAN
    serializer_class = WorklistItemSerializer

    def get_queryset(self):
        filters = query_filters(WorklistFilters, self.request)
        return worklist(
            reason=filters.get("reason", ""),
            predicted_class=filters.get("predicted_class", ""),
            older_than_days=filters.get("older_than_days"),
        )


@extend_schema(tags=["reviews"])
class PanelReviews(ApiViewMixin, generics.ListCreateAPIView):
    """A panel's reviews, latest (current) first; post one to review or amend."""

    required_role = CLINICIAN
    serializer_class = ReviewSerializer

    def panel(self) -> LabPanel:
        return get_object_or_404(LabPanel, pk=self.kwargs["pk"], patient__deleted_at__isnull=True)

    def get_queryset(self):
        return PanelReview.objects.filter(panel=self.panel()).select_related("reviewed_by").order_by("-id")

    @extend_schema(request=ReviewCreateSerializer, responses={201: ReviewSerializer})
    def post(self, request, pk: int):
        panel = self.panel()
        body = ReviewCreateSerializer(data=require_object(request.data))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not data["agrees"] and not data.get("diagnosis"):
            raise serializers.ValidationError({"diagnosis": ["required when agrees is false"]})
        try:
            review = record_review(
                panel=panel,
                user=request.user,
                agrees=data["agrees"],
                diagnosis=data.get("diagnosis", ""),
                comment=data.get("comment", ""),
                request=request,
            )
        except ValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["monitoring"])
class Monitoring(ApiViewMixin, APIView):
    """The active model's latest stored monitoring figures by week or month; post to refresh them now."""

    required_role = DATA_MANAGER
    body_required_for = ()  # a refresh needs no body (the period is a query parameter)

    @extend_schema(
        parameters=[OpenApiParameter("period", str, enum=["week", "month"])],
        responses={200: MonitoringSnapshotSerializer, 404: None},
    )
    def get(self, request):
        period = query_filters(MonitoringQuery, request)["period"]
        version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
        snapshot = latest_snapshot(version, period)
        if snapshot is None:
            return Response({"detail": "No monitoring figures yet: POST to refresh them."}, status=404)
        return Response(MonitoringSnapshotSerializer(snapshot).data)

    @extend_schema(request=None, responses={201: MonitoringSnapshotSerializer(many=True)})
    def post(self, request):
        snapshots = refresh_monitoring(user=request.user, request=request)
        return Response(MonitoringSnapshotSerializer(snapshots, many=True).data, status=status.HTTP_201_CREATED)
