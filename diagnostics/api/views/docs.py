"""The OpenAPI schema and Swagger UI, both behind a login like every endpoint, served without any CDN."""

from django.contrib.auth.views import redirect_to_login
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated

from diagnostics.access import CLINICIAN, HasRole


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema, JSON by default (``?format=yaml`` for YAML)."""

    required_role = CLINICIAN
    permission_classes = [IsAuthenticated, HasRole]
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar's static files; the init script is a separate URL (no inline JS)."""

    required_role = CLINICIAN
    permission_classes = [IsAuthenticated, HasRole]
    template_name = "diagnostics/api/swagger_ui.html"
    url_name = "api-schema"
    # Swagger UI sets style attributes from its scripts; scripts stay 'self' only.
    content_security_policy = {"style-src": "'self' 'unsafe-inline'"}

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
