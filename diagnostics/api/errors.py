"""One error shape for the whole API: ``{"errors": {"<field>": ["<message>", ...]}}``.

Field errors are keyed by the field's path (``TSH``, ``panels.3.TSH``,
``entry.0.resource.valueQuantity.unit``); problems that belong to no field are
keyed ``detail``; an unreadable body is keyed ``body``.
"""

import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from diagnostics.services.health import BrokerUnavailable
from diagnostics.services.registry import NoActiveModel
from diagnostics.views.errors import server_error as page_server_error

# What a database that cannot be reached raises (refused or dropped connection, server shutting down).
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = "10"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unreachable for a moment; retry in a few seconds."
    default_code = "service_unavailable"


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
    if isinstance(exc, DATABASE_UNREACHABLE):
        exc = ServiceUnavailable()
    elif isinstance(exc, (BrokerUnavailable, NoActiveModel)):
        exc = ServiceUnavailable(str(exc))
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
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def not_found(request, exception=None):
    """handler404: JSON for /api/ URLs that match no route, Django's page otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"detail": ["Not found."]}}, status=404)
    return page_not_found(request, exception)


def service_unavailable(request) -> HttpResponse:
    """503 while the database is unreachable: the API's JSON error shape, or a page that needs no database
    (rendered without the request, so no session or user is looked up)."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"errors": {"detail": [ServiceUnavailable.default_detail]}}, status=503)
    else:
        page = render_to_string("503.html", {"message": _("ThyroWeb cannot reach its database for a moment.")})
        response = HttpResponse(page, status=503)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def server_error(request):
    """handler500: an unreachable database (anywhere: a view, the session, the login check) is a 503;
    any other error is a 500, in JSON for the API."""
    if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE):
        return service_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"detail": ["Internal server error."]}}, status=500)
    return page_server_error(request)  # the page with the navigation
