"""Training runs and batch scoring jobs (data managers): start, status with progress, results."""

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from diagnostics.access import DATA_MANAGER
from diagnostics.api.serializers import (
    ScoringJobCreateSerializer,
    ScoringJobSerializer,
    TrainingRunCreateSerializer,
    TrainingRunSerializer,
)
from diagnostics.api.views.base import ApiViewMixin
from diagnostics.models import ScoringJob, TrainingRun
from diagnostics.services.scoring_jobs import UploadRejected, start_scoring_job
from diagnostics.services.training import TrainingRejected, start_training_run


@extend_schema(tags=["jobs"])
class TrainingRunList(ApiViewMixin, generics.ListCreateAPIView):
    """Training runs, newest first; start one on the labelled panels in the database."""

    required_role = DATA_MANAGER
    serializer_class = TrainingRunSerializer
    queryset = TrainingRun.objects.select_related("result_version")
    body_required_for = ()  # every training option has a default

    @extend_schema(request=TrainingRunCreateSerializer, responses={202: TrainingRunSerializer})
    def post(self, request):
        options = TrainingRunCreateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        params = dict(options.validated_data)
        data_file = params.pop("data_file", None)
        include_reviews = params.pop("include_reviews", False)
        try:
            run = start_training_run(
                user=request.user, request=request, data_file=data_file, params=params, include_reviews=include_reviews
            )
        except TrainingRejected as problem:
            raise serializers.ValidationError({"data_file" if data_file else "detail": [str(problem)]}) from None
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["jobs"])
class TrainingRunDetail(ApiViewMixin, generics.RetrieveAPIView):
    """A training run's status, progress (epoch, validation macro-F1) and resulting model version."""

    required_role = DATA_MANAGER
    serializer_class = TrainingRunSerializer
    queryset = TrainingRun.objects.select_related("result_version")


@extend_schema(tags=["jobs"])
class ScoringJobList(ApiViewMixin, generics.ListCreateAPIView):
    """Batch scoring jobs, newest first; upload a CSV or UCI-format file of panels to score."""

    required_role = DATA_MANAGER
    serializer_class = ScoringJobSerializer
    queryset = ScoringJob.objects.select_related("model_version")
    parser_classes = [MultiPartParser]

    def max_body_bytes(self) -> int:
        return settings.THYROWEB_MAX_UPLOAD_BYTES + 64 * 1024  # the file plus the multipart envelope

    @extend_schema(request={"multipart/form-data": ScoringJobCreateSerializer}, responses={202: ScoringJobSerializer})
    def post(self, request):
        upload = ScoringJobCreateSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            job = start_scoring_job(
                user=request.user,
                request=request,
                uploaded_file=upload.validated_data["file"],
                mode=upload.validated_data["mode"],
            )
        except UploadRejected as problem:
            raise serializers.ValidationError({"file": [str(problem)]}) from None
        return Response(ScoringJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["jobs"])
class ScoringJobDetail(ApiViewMixin, generics.RetrieveAPIView):
    """A scoring job's status, progress, row counts and rejected rows (line and reason)."""

    required_role = DATA_MANAGER
    serializer_class = ScoringJobSerializer
    queryset = ScoringJob.objects.select_related("model_version")


@extend_schema(
    tags=["jobs"],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Input columns plus results.")},
)
class ScoringJobResults(ApiViewMixin, generics.GenericAPIView):
    """The finished job's results as CSV (404 until there are results)."""

    required_role = DATA_MANAGER
    queryset = ScoringJob.objects.all()

    def get(self, request, pk):
        job = self.get_object()
        if not job.result_file:
            raise generics.Http404("this job has no results yet")
        try:
            content = job.result_file.open("rb")
        except FileNotFoundError:
            raise generics.Http404("the results file of this job is missing") from None
        name = f"scoring-job-{job.pk}-results.csv"
        return FileResponse(content, as_attachment=True, filename=name, content_type="text/csv")
