"""Model versions: list with metrics, retrieve, activate (data managers)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.access import CLINICIAN, DATA_MANAGER
from diagnostics.api.errors import error_response
from diagnostics.api.schema import ErrorSerializer
from diagnostics.api.serializers import ActivateSerializer, ModelVersionSerializer
from diagnostics.api.views.base import ApiViewMixin
from diagnostics.models import ModelVersion
from diagnostics.services.registry import PromotionRefused, activate_model_version


@extend_schema(tags=["models"])
class ModelVersionList(ApiViewMixin, generics.ListAPIView):
    """Every model version, newest first, with its metrics and status."""

    required_role = CLINICIAN
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()


@extend_schema(tags=["models"])
class ModelVersionDetail(ApiViewMixin, generics.RetrieveAPIView):
    required_role = CLINICIAN
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()
    lookup_field = "version"


@extend_schema(
    tags=["models"],
    request=ActivateSerializer,
    responses={
        200: ModelVersionSerializer,
        409: OpenApiResponse(ErrorSerializer, description="Refused by the promotion rule; give an override_reason."),
    },
)
class ModelVersionActivate(ApiViewMixin, APIView):
    """Make this version the active model, if at least as good as the active one or with an override reason."""

    required_role = DATA_MANAGER
    body_required_for = ()  # override_reason is optional

    def post(self, request, version):
        target = generics.get_object_or_404(ModelVersion, version=version)
        serializer = ActivateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            activated = activate_model_version(
                version=target,
                user=request.user,
                request=request,
                override_reason=serializer.validated_data.get("override_reason", ""),
            )
        except PromotionRefused as refused:
            return error_response({"override_reason": [str(refused)]}, status_code=409)
        return Response(ModelVersionSerializer(activated).data)
