"""What every API view shares: JSON bodies only, a body size limit, and helpers for the error shape."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from diagnostics.api.errors import PayloadTooLarge


class BoundedJSONParser(JSONParser):
    """JSON nested deeper than Python's decoder can follow is a 400, not a RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None


class FhirJSONParser(BoundedJSONParser):
    media_type = "application/fhir+json"


class ApiViewMixin:
    """JSON request bodies only (415 otherwise); 413 before reading a body above the upload limit."""

    parser_classes = [BoundedJSONParser]

    def max_body_bytes(self) -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.max_body_bytes()
        if length > limit:
            raise PayloadTooLarge(f"The request body has {length} bytes; at most {limit} are accepted.")
        super().initial(request, *args, **kwargs)


def query_filters(serializer_class, request) -> dict:
    """Validated query-string filters (400 naming the parameter on a bad value); absent ones left out."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if value is not None}


def require_object(data) -> dict:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"body": ["the body must be a JSON object"]})
    return data
