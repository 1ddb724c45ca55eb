"""OpenAPI schema generation: every operation documents the error responses it can give."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from diagnostics.api.panel_serializers import StrictFieldsMixin


class ErrorSerializer(serializers.Serializer):
    """Every 4xx answer: messages keyed by the field they concern (``detail`` when none)."""

    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


_ERRORS = {
    "400": "Invalid input: each field's problems.",
    "401": "Not authenticated (send a session cookie or `Authorization: Token <key>`).",
    "403": "Authenticated, but the user's role does not allow this.",
    "404": "No such object (or page).",
    "413": "The request body is too large.",
    "415": "Unsupported Content-Type.",
    "429": "Too many requests for this user; retry after the Retry-After header's seconds.",
}
_BODY_ONLY = {"413", "415"}


class ThyroWebAutoSchema(AutoSchema):
    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and self.method in getattr(self.view, "body_required_for", ()):
            body["required"] = True  # ApiViewMixin answers 400 when it is missing
        return body

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            schema["additionalProperties"] = False  # unknown fields are refused, naming them
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        has_body = self.method in ("POST", "PUT", "PATCH")
        for code, description in _ERRORS.items():
            if code in responses or (code in _BODY_ONLY and not has_body):
                continue
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=ErrorSerializer, description=description), code, direction=direction
            )
        return responses
