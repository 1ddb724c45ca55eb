"""One error shape for the whole API: ``{"errors": {"<field>": ["<message>", ...]}}``.

Field errors are keyed by the field's path (``TSH``, ``panels.3.TSH``,
``entry.0.resource.valueQuantity.unit``); problems that belong to no field are
keyed ``detail``; an unreadable body is keyed ``body``.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {dotted.path: [messages]}."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "detail" if key == "non_field_errors" and not prefix else str(key)
            for path, messages in flatten_errors(value, f"{prefix}.{name}" if prefix else name).items():
                errors.setdefault(path, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        for index, value in enumerate(detail):
            if value:
                errors.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, list):
        errors[prefix or "detail"] = [str(item) for item in detail]
    else:
        errors[prefix or "detail"] = [str(detail)]
    return errors


def error_response(errors: dict[str, list[str]], status_code: int = 400, headers=None) -> Response:
    return Response({"errors": errors}, status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):  # a service refused the input (model or form validation)
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError({("detail" if k == "__all__" else k): v for k, v in by_field.items()})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
    elif isinstance(exc, exceptions.ParseError):
        errors = {"body": [str(exc.detail)]}
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        errors = {"Content-Type": [str(exc.detail)]}
    else:
        errors = flatten_errors(exc.detail)
    response.data = {"errors": errors}
    return response


def not_found(request, exception=None):
    """handler404: JSON for /api/ URLs that match no route, Django's page otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"detail": ["Not found."]}}, status=404)
    return page_not_found(request, exception)
