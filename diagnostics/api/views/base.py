"""What every API view shares: JSON bodies only, a body size limit, and helpers for the error shape."""

import io
import re

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from diagnostics.api.errors import PayloadTooLarge

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


class BoundedJSONParser(JSONParser):
    """JSON that Python decodes but cannot handle is a 400, not a 500: nesting deeper than the decoder
    can follow (RecursionError), and strings with an unpaired surrogate escape such as "\\ud800"
    (which cannot be stored or even echoed back as UTF-8)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
            lone_surrogate = _SURROGATE_ESCAPE.search(raw) is not None and _has_lone_surrogate(data)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None
        if lone_surrogate:
            raise ParseError("JSON parse error - a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
        return data


class FhirJSONParser(BoundedJSONParser):
    media_type = "application/fhir+json"


class FhirJSONRenderer(JSONRenderer):
    """JSON answered as FHIR's own media type, for clients that ask with ``Accept: application/fhir+json``."""

    media_type = "application/fhir+json"


class ApiViewMixin:
    """JSON request bodies only (415 otherwise); 413 before reading a body above the upload limit; 400 when
    a method that needs a body comes without one."""

    parser_classes = [BoundedJSONParser]
    # Methods whose request needs a body (the schema marks it required); a view whose body is optional sets ().
    body_required_for: tuple[str, ...] = ("POST", "PUT", "PATCH")

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
        if length == 0 and request.method in self.body_required_for:
            raise serializers.ValidationError({"body": [f"{request.method} {request.path} needs a request body"]})


def query_filters(serializer_class, request) -> dict:
    """Validated query-string filters (400 naming the parameter on a bad value); absent ones left out."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if value is not None}


def require_object(data) -> dict:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"body": ["the body must be a JSON object"]})
    return data
