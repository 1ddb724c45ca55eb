"""Request ids for the logs, the Content-Security-Policy header, and the request size limit."""

import re
import uuid

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse

from diagnostics.logs import current_request_id

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Room for the multipart envelope and form fields around an uploaded file.
ENVELOPE_BYTES = 1024 * 1024

# Only our own scripts, styles and images; no framing; forms post to us only.
DEFAULT_CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


class RequestIdMiddleware:
    """Give each request an id (the caller's X-Request-ID if it looks safe), log with it, echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response.headers["X-Request-ID"] = request_id
        return response


def content_security_policy(overrides: dict[str, str] | None = None) -> str:
    policy = {**DEFAULT_CONTENT_SECURITY_POLICY, **getattr(settings, "CONTENT_SECURITY_POLICY", {})}
    policy.update(overrides or {})
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


def _view_overrides(view_func) -> dict[str, str] | None:
    """A view (function or DRF/class-based) may relax directives with ``content_security_policy``."""
    for candidate in (view_func, getattr(view_func, "cls", None), getattr(view_func, "view_class", None)):
        overrides = getattr(candidate, "content_security_policy", None)
        if overrides:
            return overrides
    return None


# Browser features ThyroWeb never uses, switched off for every page.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class ContentSecurityPolicyMiddleware:
    """Send a Content-Security-Policy on every response that has none (Django 5.2 has no built-in CSP),
    and a Permissions-Policy."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.default_header = content_security_policy()

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response.headers:
            overrides = getattr(request, "_csp_overrides", None)
            response.headers["Content-Security-Policy"] = (
                content_security_policy(overrides) if overrides else self.default_header
            )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        request._csp_overrides = _view_overrides(view_func)
        return None


def max_request_bytes() -> int:
    """The largest request body accepted: an upload at the limit plus its envelope."""
    return settings.THYROWEB_MAX_UPLOAD_BYTES + ENVELOPE_BYTES


class RequestSizeLimitMiddleware:
    """Answer 413 before reading a body larger than the upload limit (Django caps form fields, not files)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = max_request_bytes()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponseBadRequest("Content-Length is not a number.", content_type="text/plain")
        if length > limit:
            message = f"The request body has {length} bytes; at most {limit} are accepted."
            if request.path.startswith("/api/"):
                return JsonResponse({"errors": {"body": [message]}}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class InvalidPathMiddleware:
    """A path holding a NUL or another control character names nothing: 404 (JSON under /api/) before any
    view passes it to the database (PostgreSQL refuses NUL in a string: that was a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(ord(character) < 32 or ord(character) == 127 for character in request.path):
            # thyroweb.wsgi imports this module (max_request_bytes) before Django is set up; the API's error
            # module needs the models: imported when a bad path comes.
            from diagnostics.api.errors import not_found

            return not_found(request)
        return self.get_response(request)
